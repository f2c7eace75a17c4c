package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"winnow/internal/testenv"
	"winnow/trainer/trainertest"
)

// A config with train: makes `winnow run` end by fine-tuning on the shards
// it wrote; a bad train: section is refused before the pipeline runs.
func TestRunThenTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	py := trainertest.Python(t)
	dir := t.TempDir()
	out, trainRun := filepath.Join(dir, "out"), filepath.Join(dir, "train")
	cfg := filepath.Join(dir, "p.yaml")
	yml := "input: {paths: [" + filepath.Join(testenv.Fixtures(t), "corpus", "zh-laws") + "]}\n" +
		"stages: [{normalize: {}}, {length: {min_chars: 30}}]\n" +
		"train: {run: " + trainRun + ", preset: tiny, tokenizer: byte, steps: 6, seq_len: 64, batch_size: 2, val_fraction: 0.3, python: " + py.Path + "}\n"
	os.WriteFile(cfg, []byte(yml), 0o644)
	stderr, _ := os.CreateTemp(dir, "stderr")
	defer stderr.Close()
	code := Run(t.Context(), RunFlags{ConfigPath: cfg, Output: out, Workers: -1, MaxMemory: -1, LogFormat: "text", LogLevel: "warn"}, stderr)
	msg, _ := os.ReadFile(stderr.Name())
	if code != ExitOK {
		t.Fatalf("exit code %d:\n%s", code, msg)
	}
	if !strings.Contains(string(msg), "winnow: trained "+trainRun) {
		t.Errorf("no training summary:\n%s", msg)
	}
	if done := lastEvent(t, filepath.Join(trainRun, "metrics.jsonl")); done["event"] != "done" || done["step"] != 6.0 {
		t.Errorf("last event %v, want done at step 6", done)
	}

	bad := strings.Replace(yml, "preset: tiny", "preset: huge", 1)
	os.WriteFile(cfg, []byte(bad), 0o644)
	out2 := filepath.Join(dir, "out2")
	if code := Run(t.Context(), RunFlags{ConfigPath: cfg, Output: out2, Workers: -1, MaxMemory: -1, LogFormat: "text", LogLevel: "warn"}, stderr); code != ExitConfig {
		t.Errorf("preset: huge gave exit code %d, want %d", code, ExitConfig)
	}
	if exists(out2) {
		t.Errorf("the pipeline ran despite the bad train: section")
	}
}

func lastEvent(t *testing.T, path string) map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		last = nil
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	return last
}
