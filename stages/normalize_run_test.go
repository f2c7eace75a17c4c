package stages

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"winnow/pipeline"
)

// TestNormalizeRun runs normalize through the engine on a small JSONL
// file: the options decode from YAML (t2s: off stays a string), the
// counters reach stats.json and the columns reach the shards.
func TestNormalizeRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.MkdirAll(in, 0o755)
	lines := []string{
		`{"text": "天氣很乾燥，頭髮很亂。\n"}`,
		`{"text": "ＡＢＣ１２３，测试。"}`,
		`{"text": "Ã©tÃ© à Paris"}`,
		`{"text": "锟斤拷锟斤拷锟斤拷"}`,
		`{"text": "clean text"}`,
		`{"text": "a\u200bb\r\nc"}`,
	}
	if err := os.WriteFile(filepath.Join(in, "docs.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgYAML := "input:\n  paths: [" + in + "]\noutput:\n  dir: " + filepath.Join(dir, "out") + "\n  keep_rejected: true\n" +
		"stages:\n  - normalize: {mojibake_drop: 0.5}\n  - normalize: {t2s: off, mojibake: off}\n"
	cfg, err := pipeline.ParseConfig([]byte(cfgYAML), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg := pipeline.NewRegistry()
	reg.NewReader = NewFileReader
	reg.Register(NormalizeInfo)
	res, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	var first *pipeline.StageStats
	for i := range res.Stats.Stages {
		if res.Stats.Stages[i].Name == "normalize" {
			first = &res.Stats.Stages[i]
			break
		}
	}
	if first == nil {
		t.Fatalf("no normalize stats in %+v", res.Stats.Stages)
	}
	want := map[string]int64{
		"changed": 4, "t2s": 1, "t2s_checked": 1, "fullwidth": 1, "whitespace": 2,
		"mojibake_flagged": 2, "mojibake_repaired": 1, "controls_removed": 1,
	}
	for k, v := range want {
		if first.Counts[k] != v {
			t.Errorf("counter %s = %d, want %d (all: %v)", k, first.Counts[k], v, first.Counts)
		}
	}
	if d := first.Dropped["normalize.mojibake_score>0.5"]; d.Docs != 1 {
		t.Errorf("dropped %+v, want the 锟斤拷 row", first.Dropped)
	}
}
