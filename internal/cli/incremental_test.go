package cli

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// lawVersions copies each dated law of a few zh-laws folders into day1/
// (its earliest version) or day2/ (every later version, plus a third of
// the laws), so day 2 brings near-duplicates of day-1 articles; and a
// story of Lu Xun's to each day, whose paragraphs nothing else repeats.
func lawVersions(t *testing.T, corpora, in string) (day1, day2 []string) {
	t.Helper()
	for day, story := range map[string]string{"day1": "呐喊/故乡.txt", "day2": "彷徨/祝福.txt"} {
		dst := filepath.Join(in, day, "prose", filepath.Base(story))
		copyFile(t, filepath.Join(corpora, "zh-prose", story), dst)
		// Without the byline the two stories share no paragraph.
		data, _ := os.ReadFile(dst)
		os.WriteFile(dst, []byte(strings.ReplaceAll(string(data), "·鲁迅·", "")), 0o644)
		if day == "day1" {
			day1 = append(day1, dst)
		} else {
			day2 = append(day2, dst)
		}
	}
	for _, folder := range []string{"宪法相关法", "刑法", "民法商法"} {
		entries, err := os.ReadDir(filepath.Join(corpora, "zh-laws", folder))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range entries { // sorted: a title's versions by date
			title, _, _ := strings.Cut(e.Name(), "(")
			title = strings.TrimSuffix(title, ".md")
			day := "day1"
			if seen[title] || len(seen)%3 == 2 {
				day = "day2"
			}
			seen[title] = true
			dst := filepath.Join(in, day, folder, e.Name())
			copyFile(t, filepath.Join(corpora, "zh-laws", folder, e.Name()), dst)
			if day == "day1" {
				day1 = append(day1, dst)
			} else {
				day2 = append(day2, dst)
			}
		}
	}
	return day1, day2
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(dst), 0o755)
	}
	if err == nil {
		err = os.WriteFile(dst, data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// An incremental run over day 2 removes day 2's copies of day-1 articles
// (naming the day-1 ids), leaves day 1's shards as they were, and keeps
// the set a full run over both days keeps; after a file changes and
// another vanishes, the next run retracts their documents and still
// agrees with a full run.
func TestIncrementalEqualsFullRun(t *testing.T) {
	corpora := testenv.SharedCorpora(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	day1, day2 := lawVersions(t, corpora, filepath.Join(dir, "staging"))
	// Day 1 only.
	for _, p := range day1 {
		copyFile(t, p, strings.Replace(p, "staging", "in", 1))
	}
	cfg := filepath.Join(dir, "p.yaml")
	yml := `incremental: true
input: {paths: [` + in + `], text_split: paragraph}
output: {shard_bytes: 65536}
stages:
  - normalize: {}
  - length: {min_chars: 20}
  - exact_dedup: {}
  - minhash_dedup: {}
`
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	run1 := runIncremental(t, cfg, out)
	m1 := readManifest(t, run1)
	if m1.Totals.Kept < 500 {
		t.Fatalf("day 1 kept only %d documents", m1.Totals.Kept)
	}

	// Day 2 arrives.
	for _, p := range day2 {
		copyFile(t, p, strings.Replace(p, "staging", "in", 1))
	}
	run2 := runIncremental(t, cfg, out)
	m2 := readManifest(t, run2)
	if m2.PreviousRun != m1.RunID {
		t.Errorf("run 2 continues %q, want %q", m2.PreviousRun, m1.RunID)
	}
	checkCarriedUntouched(t, run1, run2, m1)
	checkDay1Matches(t, run1, run2)
	compareWithFullRun(t, dir, in, run2)
	if again := runIncremental(t, cfg, out); again != run2 {
		t.Errorf("a run with nothing new published %s", again)
	}

	// A day-1 story is amended in place and the day-2 story is withdrawn:
	// files whose documents have no duplicate in other files, since a run
	// that retracts a document does not bring back the ones removed as its
	// duplicates, and an amended file's documents are new ones, so they
	// lose to published duplicates where a full run would keep them.
	changed, deleted := filepath.Join(in, "day1", "prose", "故乡.txt"), filepath.Join(in, "day2", "prose", "祝福.txt")
	checkNoDuplicatesElsewhere(t, run2, "day1/prose/故乡.txt", "day2/prose/祝福.txt")
	f, err := os.OpenFile(changed, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	const added = "补记：这一段是后来追加的文字，用来检验增量运行读到修改过的文件里的新段落。"
	f.WriteString("\n\n" + added + "\n")
	f.Close()
	if err := os.Remove(deleted); err != nil {
		t.Fatal(err)
	}
	run3 := runIncremental(t, cfg, out)
	m3 := readManifest(t, run3)
	reasons := map[string]string{}
	for _, r := range m3.Retracted {
		reasons[r.Path] = r.Reason
		if r.Docs == 0 {
			t.Errorf("retraction of %s took out no document", r.Path)
		}
	}
	if len(reasons) != 2 || reasons[changed] != "changed" || reasons[deleted] != "deleted" {
		t.Errorf("retracted %+v, want %s changed and %s deleted", m3.Retracted, changed, deleted)
	}
	compareWithFullRun(t, dir, in, run3)
	for _, r := range testenv.ReadRows(t, filepath.Join(run3, "shards")) {
		if r["text"] == added {
			return
		}
	}
	t.Errorf("the amended file's new paragraph is not among the kept documents")
}

// checkNoDuplicatesElsewhere fails unless none of the documents of the
// sources is a duplicate of, or has one in, another file.
func checkNoDuplicatesElsewhere(t *testing.T, run string, sources ...string) {
	t.Helper()
	ids := map[string]string{}
	for _, r := range testenv.ReadRows(t, filepath.Join(run, "shards")) {
		ids[r["id"].(string)] = r["source"].(string)
	}
	for _, r := range testenv.ReadRows(t, filepath.Join(run, "rejected")) {
		d, ok := r["dup_of"].(string)
		if !ok || ids[d] == r["source"] {
			continue
		}
		for _, src := range sources {
			if r["source"] == src || ids[d] == src {
				t.Fatalf("%s: %v in %v duplicates %s in %s", src, r["id"], r["source"], d, ids[d])
			}
		}
	}
}

func runIncremental(t *testing.T, cfgPath, out string) string {
	t.Helper()
	cfg, err := LoadConfig(RunFlags{ConfigPath: cfgPath, Output: out, Workers: 2, MaxMemory: -1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := filepath.EvalSymlinks(filepath.Join(out, pipeline.CurrentLink))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.EvalSymlinks(res.Dir); cur != want {
		t.Fatalf("current points to %s, the run wrote %s", cur, res.Dir)
	}
	return res.Dir
}

func readManifest(t *testing.T, dir string) *pipeline.Manifest {
	t.Helper()
	m, err := pipeline.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tt := m.Totals; tt.Read != tt.Kept+tt.Rejected+tt.Quarantined {
		t.Errorf("%s: totals do not reconcile: %+v", dir, tt)
	}
	var kept, rejected int64
	for _, o := range m.Outputs {
		switch {
		case strings.HasPrefix(o.Path, "shards/"):
			kept += o.Rows
		case strings.HasPrefix(o.Path, "rejected/"):
			rejected += o.Rows
		}
	}
	if kept != m.Totals.Kept || rejected != m.Totals.Rejected {
		t.Errorf("%s: shards hold %d kept and %d rejected rows, totals say %+v", dir, kept, rejected, m.Totals)
	}
	return m
}

// checkCarriedUntouched: every output of run 1 is in run 2 as the same
// file (a hard link), with the checksum the manifest gave it.
func checkCarriedUntouched(t *testing.T, run1, run2 string, m1 *pipeline.Manifest) {
	t.Helper()
	for _, o := range m1.Outputs {
		if o.Path == "config.yaml" || o.Path == "stats.json" {
			continue
		}
		a, err1 := os.Stat(filepath.Join(run1, o.Path))
		b, err2 := os.Stat(filepath.Join(run2, o.Path))
		if err1 != nil || err2 != nil || !os.SameFile(a, b) {
			t.Errorf("%s of run 1 is not carried into run 2 unchanged (%v, %v)", o.Path, err1, err2)
		}
	}
}

// checkDay1Matches: day 2's duplicates of day-1 articles are removed with
// dup_of naming a document run 1 kept.
func checkDay1Matches(t *testing.T, run1, run2 string) {
	t.Helper()
	kept1 := map[string]bool{}
	for _, id := range keptIDs(t, run1) {
		kept1[id] = true
	}
	matches := 0
	for _, r := range testenv.ReadRows(t, filepath.Join(run2, "rejected")) {
		dupOf, _ := r["dup_of"].(string)
		if strings.HasPrefix(r["source"].(string), "day2/") && kept1[dupOf] {
			matches++
		}
	}
	if matches < 100 {
		t.Errorf("only %d day-2 documents removed as duplicates of day-1 documents", matches)
	}
	t.Logf("%d day-2 documents removed as duplicates of documents kept on day 1", matches)
}

// compareWithFullRun runs the same stages over the inputs as they are now,
// in one non-incremental run, and compares the kept ids.
func compareWithFullRun(t *testing.T, dir, in, incRun string) {
	t.Helper()
	full := filepath.Join(dir, "full")
	os.RemoveAll(full)
	cfg := filepath.Join(dir, "full.yaml")
	data, _ := os.ReadFile(filepath.Join(dir, "p.yaml"))
	os.WriteFile(cfg, []byte(strings.Replace(string(data), "incremental: true", "incremental: false", 1)), 0o644)
	runConfig(t, cfg, full)
	want, got := keptIDs(t, full), keptIDs(t, incRun)
	if !slices.Equal(want, got) {
		onlyFull, onlyInc := difference(want, got), difference(got, want)
		logDropped(t, "full run", full, onlyInc)
		logDropped(t, "incremental run", incRun, onlyFull)
		t.Errorf("kept sets differ: %d kept by the full run only (e.g. %v), %d by the incremental run only (e.g. %v)",
			len(onlyFull), head(onlyFull, 5), len(onlyInc), head(onlyInc, 5))
	}
}

// logDropped says why run dropped each of ids (up to ten).
func logDropped(t *testing.T, name, run string, ids []string) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range head(ids, 10) {
		want[id] = true
	}
	for _, r := range testenv.ReadRows(t, filepath.Join(run, "rejected")) {
		if want[r["id"].(string)] {
			t.Logf("%s dropped %v (%v) as %v of %v: %.80q", name, r["id"], r["source"], r["drop_reason"], r["dup_of"], r["text"])
		}
	}
}

func difference(a, b []string) []string {
	var d []string
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			d = append(d, x)
		}
	}
	return d
}

func head(s []string, n int) []string { return s[:min(n, len(s))] }

// `winnow run --incremental` publishes runs/<id> behind current, and says
// so when a second run finds nothing new.
func TestIncrementalFlag(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	copyFile(t, filepath.Join(testenv.Fixtures(t), "corpus", "udhr", "udhr.jsonl"), filepath.Join(in, "udhr.jsonl"))
	run := func() string {
		t.Helper()
		stderr, err := os.CreateTemp(dir, "stderr")
		if err != nil {
			t.Fatal(err)
		}
		defer stderr.Close()
		if code := Run(context.Background(), RunFlags{Inputs: []string{in}, Output: out, Incremental: true, Workers: 1, MaxMemory: -1, LogFormat: "text", LogLevel: "warn"}, stderr); code != ExitOK {
			t.Fatalf("exit code %d", code)
		}
		data, _ := os.ReadFile(stderr.Name())
		return string(data)
	}
	first := run()
	cur, err := os.Readlink(filepath.Join(out, pipeline.CurrentLink))
	if err != nil || !strings.HasPrefix(cur, pipeline.RunsDir+"/") || !strings.Contains(first, cur) {
		t.Fatalf("current -> %q (%v); stderr:\n%s", cur, err, first)
	}
	if second := run(); !strings.Contains(second, "nothing new since") {
		t.Errorf("second run said:\n%s", second)
	}
	if again, _ := os.Readlink(filepath.Join(out, pipeline.CurrentLink)); again != cur {
		t.Errorf("current moved from %s to %s with nothing new", cur, again)
	}
}
