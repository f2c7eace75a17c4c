package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// The acceptance test for determinism: the demo recipe on the fixtures with
// 1 and 8 workers gives byte-identical shards.
func TestDemoDeterministicAcrossWorkers(t *testing.T) {
	t.Chdir(testenv.RepoRoot(t))
	var runs [2]*pipeline.Manifest
	var dirs [2]string
	for i, workers := range []int{1, 8} {
		dirs[i] = filepath.Join(t.TempDir(), "out")
		cfg, err := LoadConfig(RunFlags{ConfigPath: "fixtures/demo.yaml", Output: dirs[i], Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Input.BatchDocs = 7 // many small batches, so ordering is exercised
		res, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = res.Manifest
	}
	var shards int
	for j, o := range runs[0].Outputs {
		if !strings.HasSuffix(o.Path, ".parquet") {
			continue
		}
		shards++
		a, _ := os.ReadFile(filepath.Join(dirs[0], o.Path))
		b, err := os.ReadFile(filepath.Join(dirs[1], runs[1].Outputs[j].Path))
		if err != nil || !bytes.Equal(a, b) || o.SHA256 != runs[1].Outputs[j].SHA256 {
			t.Errorf("%s differs between 1 and 8 workers", o.Path)
		}
	}
	if shards == 0 {
		t.Fatal("no shards written")
	}
}

func TestValidateAndDefaults(t *testing.T) {
	t.Chdir(testenv.RepoRoot(t))
	var out bytes.Buffer
	if err := Validate(&out, RunFlags{ConfigPath: "fixtures/demo.yaml", Workers: -1}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "fixtures/demo.yaml: ok: ") || !strings.Contains(out.String(), " 28 input files") {
		t.Errorf("validate said %q", out.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("input:\n  paths: [fixtures/corpus]\nstages:\n  - length: {min_chars: 10, max_char: 5}\n"), 0o644)
	err := Validate(&out, RunFlags{ConfigPath: bad, Workers: -1})
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:4:") || !strings.Contains(err.Error(), "stages[0].length.max_char: unknown key") {
		t.Errorf("validate error = %v", err)
	}
	out.Reset()
	if err := PrintDefaults(&out); err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.ParseConfig(out.Bytes(), "defaults.yaml")
	if err != nil {
		t.Fatalf("defaults do not parse back: %v", err)
	}
	if cfg.Input.TextField != "text" || !strings.Contains(out.String(), "#  - length:") {
		t.Errorf("defaults output:\n%s", out.String())
	}
}
