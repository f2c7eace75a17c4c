package dedup_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"winnow/internal/cli"
	"winnow/internal/testenv"
	"winnow/pipeline"
)

// runStages runs the given stage list over the fixtures' corpus.
func runStages(t *testing.T, out string, workers int, batchDocs int, stages string) *pipeline.Result {
	t.Helper()
	return runOn(t, filepath.Join(testenv.Fixtures(t), "corpus"), out, workers, batchDocs, stages)
}

func runOn(t *testing.T, in, out string, workers int, batchDocs int, stages string) *pipeline.Result {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "c.yaml")
	yml := "input:\n  paths: [" + in + "]\noutput:\n  dir: " + out + "\nstages:\n" + stages
	if err := os.WriteFile(cfgPath, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Workers = workers
	cfg.Input.BatchDocs = batchDocs
	res, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: cli.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

const dedupStages = `  - normalize: {}
  - exact_dedup: {}
  - minhash_dedup: {MEMORY}
`

// The removal set and every shard byte are the same for 1 and 8 workers
// and for a spill budget that holds everything or a few records.
func TestDedupDeterministic(t *testing.T) {
	var dirs []string
	for _, c := range []struct {
		workers, batch int
		memory         string
	}{{1, 7, "{}"}, {8, 7, "{memory: 40960}"}, {3, 7, "{memory: 65536}"}} {
		dir := filepath.Join(t.TempDir(), "out")
		res := runStages(t, dir, c.workers, c.batch, strings.Replace(dedupStages, "{MEMORY}", c.memory, 1))
		mh := res.Stats.Stages[2]
		if c.memory == "{memory: 40960}" && mh.Counts["spills"] < 10 {
			t.Errorf("a 40 KiB budget spilled only %d times", mh.Counts["spills"])
		}
		dirs = append(dirs, dir)
	}
	for _, d := range dirs[1:] {
		for _, sub := range []string{"shards", "rejected"} {
			a := readDir(t, filepath.Join(dirs[0], sub))
			b := readDir(t, filepath.Join(d, sub))
			if len(a) == 0 || len(a) != len(b) {
				t.Fatalf("%s: %d vs %d files", sub, len(a), len(b))
			}
			for name, data := range a {
				if !bytes.Equal(data, b[name]) {
					t.Errorf("%s/%s differs between runs", sub, name)
				}
			}
		}
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}

// On the fixtures: the byte-identical copy of a law is an exact duplicate,
// every dup_of is the id of a kept document in the same cluster, and the
// kept documents' cluster sizes account for every removed one.
func TestDedupFixturesContent(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	res := runStages(t, out, 2, 8192, strings.Replace(dedupStages, "{MEMORY}", "{}", 1))
	kept := testenv.ReadRows(t, filepath.Join(out, "shards"))
	rej := testenv.ReadRows(t, filepath.Join(out, "rejected"))
	keptByID := map[any]map[string]any{}
	var sizes int64
	for _, r := range kept {
		keptByID[r["id"]] = r
		sizes += r["dup_cluster_size"].(int64)
		if c := r["dup_cluster"]; c != nil && c != r["id"] {
			t.Errorf("kept row %v is in cluster %v but is not its kept member", r["id"], c)
		}
	}
	reasons := map[any]int{}
	for _, r := range rej {
		reasons[r["drop_reason"]]++
		k := keptByID[r["dup_of"]]
		if k == nil || r["dup_cluster"] != r["dup_of"] || r["drop_stage"] == nil {
			t.Errorf("rejected %v: dup_of %v is not a kept id of its cluster %v", r["id"], r["dup_of"], r["dup_cluster"])
		}
		if r["source"] == "zh-laws/resident-identity-card-law-2011-10-29.md" {
			if r["drop_reason"] != "exact_duplicate" || k["source"] != "zh-laws/resident-identity-card-law-2011-10-29-copy.md" {
				t.Errorf("the law's copy: %v of %v", r["drop_reason"], k["source"])
			}
		}
	}
	if sizes != int64(len(kept)+len(rej)) {
		t.Errorf("kept cluster sizes sum to %d, want kept %d + removed %d", sizes, len(kept), len(rej))
	}
	if reasons["exact_duplicate"] == 0 || reasons["near_duplicate"] == 0 {
		t.Errorf("drop reasons %v: want both kinds on the fixtures", reasons)
	}
	st := res.Stats.Stages
	if st[1].Dropped["exact_duplicate"].Docs != int64(reasons["exact_duplicate"]) || st[2].Dropped["near_duplicate"].Docs != int64(reasons["near_duplicate"]) {
		t.Errorf("stats %+v / %+v disagree with the shards %v", st[1].Dropped, st[2].Dropped, reasons)
	}
	t.Logf("fixtures: %d kept, removed %v, minhash counts %v", len(kept), reasons, st[2].Counts)
}

// A second run deduplicates against the first run's index and names the
// earlier documents it matched by their ids; its own index covers both.
func TestDedupAgainstIndex(t *testing.T) {
	laws := filepath.Join(testenv.Fixtures(t), "corpus", "zh-laws")
	entries, err := os.ReadDir(laws)
	if err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(t.TempDir(), "laws"), filepath.Join(t.TempDir(), "laws")
	for i, e := range entries {
		dst := map[bool]string{true: a, false: b}[i%2 == 0]
		data, _ := os.ReadFile(filepath.Join(laws, e.Name()))
		os.MkdirAll(dst, 0o755)
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := t.TempDir()
	out1, out2, out3 := filepath.Join(tmp, "1"), filepath.Join(tmp, "2"), filepath.Join(tmp, "3")
	res1 := runOn(t, a, out1, 2, 3, "  - minhash_dedup: {}\n")
	res2 := runOn(t, b, out2, 2, 3, "  - minhash_dedup: {index: "+filepath.Join(out1, "index", "minhash_dedup")+"}\n")
	first := map[any]bool{}
	keeperOf := map[any]any{} // run 1: id → id of its kept copy
	for _, r := range testenv.ReadRows(t, filepath.Join(out1, "shards")) {
		first[r["id"]] = true
		keeperOf[r["id"]] = r["id"]
	}
	for _, r := range testenv.ReadRows(t, filepath.Join(out1, "rejected")) {
		keeperOf[r["id"]] = r["dup_of"]
	}
	matches := 0
	for _, r := range testenv.ReadRows(t, filepath.Join(out2, "rejected")) {
		if first[r["dup_of"]] {
			matches++
		} else {
			t.Errorf("%v: dup_of %v is not a document of the first run", r["source"], r["dup_of"])
		}
	}
	if c := res2.Stats.Stages[0].Counts; matches == 0 || c["index_matches"] != int64(matches) || c["index_documents"] != res1.Manifest.Totals.Read {
		t.Errorf("%d matches of the first run; counts %v", matches, c)
	}
	// The second index holds the first run's kept documents too: the first
	// run's files again are all duplicates of what run 1 kept of them.
	res3 := runOn(t, a, out3, 1, 8192, "  - minhash_dedup: {index: "+filepath.Join(out2, "index", "minhash_dedup")+"}\n")
	if res3.Manifest.Totals.Kept != 0 {
		t.Errorf("rerun against the cumulative index kept %d documents", res3.Manifest.Totals.Kept)
	}
	for _, r := range testenv.ReadRows(t, filepath.Join(out3, "rejected")) {
		if r["dup_of"] != keeperOf[r["id"]] {
			t.Errorf("%v matched %v, want %v", r["id"], r["dup_of"], keeperOf[r["id"]])
		}
	}
}
