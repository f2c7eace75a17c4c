package cli

import (
	"context"
	"path/filepath"
	"testing"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// stats.json breaks the written documents down by lang, dup cluster size
// and signal values, and the breakdowns agree with the shards.
func TestStatsBreakdowns(t *testing.T) {
	t.Chdir(testenv.RepoRoot(t))
	out := filepath.Join(t.TempDir(), "out")
	cfg, err := LoadConfig(RunFlags{ConfigPath: "fixtures/demo.yaml", Output: out, Workers: 2, MaxMemory: -1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	st := res.Stats
	kept := testenv.ReadRows(t, filepath.Join(out, "shards"))
	rejected := testenv.ReadRows(t, filepath.Join(out, "rejected"))
	langs := map[string][2]int64{}
	var words int64
	sizes := map[string]int64{}
	for _, r := range kept {
		l := langs[r["lang"].(string)]
		l[0]++
		langs[r["lang"].(string)] = l
		if r["lang"] == "zh" {
			words += r["word_count"].(int64)
		}
		if r["dup_cluster_size"].(int64) == 2 {
			sizes["2"]++
		}
	}
	for _, r := range rejected {
		l := langs[r["lang"].(string)]
		l[1]++
		langs[r["lang"].(string)] = l
	}
	for lang, n := range langs {
		if got := st.ByLang[lang]; got.Kept.Docs != n[0] || got.Rejected.Docs != n[1] {
			t.Errorf("by_lang %s = %+v, shards say kept %d rejected %d", lang, got, n[0], n[1])
		}
	}
	if st.ByLang["zh"].KeptWords != words || words == 0 {
		t.Errorf("zh kept words %d, shards %d", st.ByLang["zh"].KeptWords, words)
	}
	if st.DupClusterSizes["2"] != sizes["2"] || sizes["2"] == 0 {
		t.Errorf("dup cluster sizes %v, shards have %d of size 2", st.DupClusterSizes, sizes["2"])
	}
	h, ok := st.Histograms["lang_score"]
	var total int64
	for i := range h.Kept {
		total += h.Kept[i] + h.Rejected[i]
	}
	if !ok || total != int64(len(kept)+len(rejected)) || len(h.Kept) != len(h.Edges)+1 {
		t.Errorf("lang_score histogram holds %d values of %d rows: %+v", total, len(kept)+len(rejected), h)
	}
}
