package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// winnow bench on the fixtures: one row per stage of the recipe and one for
// the recipe, each with a speed and a peak RSS; --json is the same data.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it once per stage")
	}
	bin := buildBinary(t, t.TempDir())
	var out bytes.Buffer
	rep, err := Bench(context.Background(), &out, BenchOptions{Recipe: "zh-web", Binary: bin, JSON: true,
		Inputs: []string{filepath.Join(testenv.Fixtures(t), "corpus")}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := LoadConfig(RunFlags{Recipe: "zh-web", Workers: -1, MaxMemory: -1})
	if len(rep.Rows) != len(cfg.Stages)+1 {
		t.Fatalf("%d rows for %d stages", len(rep.Rows), len(cfg.Stages))
	}
	for i, r := range rep.Rows {
		if r.MBPerCPUSec <= 0 || r.PeakRSSMiB <= 0 || r.Docs != 513 {
			t.Errorf("row %+v", r)
		}
		if i < len(cfg.Stages) && r.Name != cfg.Stages[i].Name {
			t.Errorf("row %d is %s, want %s", i, r.Name, cfg.Stages[i].Name)
		}
	}
	var back BenchReport
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || len(back.Rows) != len(rep.Rows) || !strings.Contains(back.Machine, "cores") {
		t.Errorf("--json output: %v\n%s", err, out.String())
	}
	var table bytes.Buffer
	printBench(&table, rep)
	if !strings.Contains(table.String(), "recipe zh-web (end to end)") || !strings.Contains(table.String(), "MB/s per core") {
		t.Errorf("table:\n%s", table.String())
	}
	_ = pipeline.Version
}
