package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// retuneStages are the fixtures' filters, before and after a change of
// thresholds; the stages before them (and dedup, first) stay.
const retuneBase = `input:
  paths: [%IN%]
stages:
  - normalize: {}
  - langid: {}
  - exact_dedup: {}
  - length: %LENGTH%
  - text_stats: %TEXTSTATS%
  - flagged_words: {}
  - quality_score: {}
`

func writeRetuneConfig(t *testing.T, dir, name, length string) string {
	t.Helper()
	stats := "{}"
	if strings.Contains(length, "200") { // the new thresholds: a family's too
		stats = "{thresholds: {default: {max_special_char_frac: 0.3}, zh: {min_alnum_frac: 0.7}}}"
	}
	yml := strings.NewReplacer("%IN%", filepath.Join(testenv.Fixtures(t), "corpus"), "%LENGTH%", length, "%TEXTSTATS%", stats).Replace(retuneBase)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runConfig(t *testing.T, path, out string) {
	t.Helper()
	cfg, err := LoadConfig(RunFlags{ConfigPath: path, Output: out, Workers: 2, MaxMemory: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: NewRegistry()}); err != nil {
		t.Fatal(err)
	}
}

// Retune gives exactly the kept set of a full re-run with the new
// thresholds, and --write a complete run holding it.
func TestRetuneEqualsRerun(t *testing.T) {
	dir := t.TempDir()
	oldCfg := writeRetuneConfig(t, dir, "old.yaml", "{min_chars: 30}")
	newCfg := writeRetuneConfig(t, dir, "new.yaml", "{min_chars: 200, max_chars: 20000}")
	oldOut, newOut, written := filepath.Join(dir, "old"), filepath.Join(dir, "new"), filepath.Join(dir, "retuned")
	runConfig(t, oldCfg, oldOut)
	runConfig(t, newCfg, newOut)
	var report bytes.Buffer
	res, err := Retune(context.Background(), &report, RetuneOptions{Run: oldOut, ConfigPath: newCfg, Write: written, Examples: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", report.String())
	want := keptIDs(t, newOut)
	got := append([]string{}, res.Kept...)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("retune keeps %d documents, a re-run %d", len(got), len(want))
	}
	if w := keptIDs(t, written); !slices.Equal(w, want) {
		t.Errorf("--write holds %d kept documents, a re-run %d", len(w), len(want))
	}
	m, err := pipeline.ReadManifest(written)
	if err != nil || m.Totals.Kept != int64(len(want)) {
		t.Errorf("written manifest: %+v, %v", m, err)
	}
	if _, err := os.Stat(filepath.Join(written, "report.html")); err != nil {
		t.Errorf("no report of the re-decided run: %v", err)
	}
	var st pipeline.Stats
	data, _ := os.ReadFile(filepath.Join(written, "stats.json"))
	if err := json.Unmarshal(data, &st); err != nil || st.Kept.Docs != int64(len(want)) || st.Stages[3].Name != "length" || st.Stages[3].Dropped["length.chars<200"].Docs == 0 ||
		st.Stages[len(st.Stages)-1].Out.Docs != int64(len(want)) || st.Stages[0].In.Docs != m.Totals.Read-m.Totals.Quarantined {
		t.Errorf("written stats.json: %s (%v)", data, err)
	}
	if !strings.Contains(report.String(), "text_stats.") || !strings.Contains(report.String(), "now dropped by length.chars<200:") {
		t.Errorf("the report names no flipped rule:\n%s", report.String())
	}
	// Rejected rows of the re-decided run carry the new reasons.
	reasons := map[any]int{}
	for _, r := range testenv.ReadRows(t, filepath.Join(written, "rejected")) {
		reasons[r["drop_reason"]]++
	}
	for _, r := range testenv.ReadRows(t, filepath.Join(newOut, "rejected")) {
		reasons[r["drop_reason"]]--
	}
	for k, v := range reasons {
		if v != 0 {
			t.Errorf("drop reason %v: %+d against the re-run", k, v)
		}
	}
}

func keptIDs(t *testing.T, run string) []string {
	t.Helper()
	var ids []string
	for _, r := range testenv.ReadRows(t, filepath.Join(run, "shards")) {
		ids = append(ids, r["id"].(string))
	}
	slices.Sort(ids)
	return ids
}

func TestRetuneRefusesOtherStages(t *testing.T) {
	dir := t.TempDir()
	oldCfg := writeRetuneConfig(t, dir, "old.yaml", "{min_chars: 30}")
	out := filepath.Join(dir, "old")
	runConfig(t, oldCfg, out)
	other := strings.Replace(retuneBase, "  - exact_dedup: {}\n", "  - exact_dedup: {digits: true}\n", 1)
	fill := strings.NewReplacer("%IN%", "x", "%LENGTH%", "{}", "%TEXTSTATS%", "{}")
	other = fill.Replace(other)
	after := fill.Replace(strings.Replace(retuneBase, "  - exact_dedup: {}\n", "", 1) + "  - exact_dedup: {}\n")
	for _, c := range []struct{ yml, want string }{
		{other, "stage 2 (exact_dedup): its options changed"},
		{after, "stage 2 is exact_dedup in the run and length in the new config"},
		{strings.Replace(other, "exact_dedup: {digits: true}", "exact_dedup: {}", 1) + "", ""},
		{strings.NewReplacer("%IN%", "x", "%LENGTH%", "{}", "%TEXTSTATS%", "{}", "flagged_words: {}", "flagged_words: {lists: {default: 'builtin:en'}}").Replace(retuneBase),
			"stage 5 (flagged_words): options other than thresholds changed, so its stored signals are stale"},
	} {
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(c.yml), 0o644)
		_, err := Retune(context.Background(), &bytes.Buffer{}, RetuneOptions{Run: out, ConfigPath: p})
		if c.want == "" {
			if err != nil {
				t.Errorf("thresholds only: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
}

// report --diff between a run and one with stricter thresholds: the rule
// counts, and every document kept by the first only, with the second's
// reason.
func TestDiffRuns(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	runConfig(t, writeRetuneConfig(t, dir, "a.yaml", "{min_chars: 30}"), a)
	runConfig(t, writeRetuneConfig(t, dir, "b.yaml", "{min_chars: 200}"), b)
	var out bytes.Buffer
	d, err := DiffRuns(context.Background(), &out, a, b, 2)
	if err != nil {
		t.Fatal(err)
	}
	keptA, keptB := keptIDs(t, a), keptIDs(t, b)
	if len(d.OnlyKeptA) != len(keptA)-len(keptB) || len(d.OnlyKeptB) != 0 {
		t.Errorf("only in A %d, only in B %d; kept %d and %d", len(d.OnlyKeptA), len(d.OnlyKeptB), len(keptA), len(keptB))
	}
	for _, id := range d.OnlyKeptA {
		if r := d.ReasonInB[id]; !strings.HasPrefix(r, "length.chars<200") && !strings.HasPrefix(r, "text_stats.") {
			t.Errorf("%s: reason in B %q", id, r)
		}
	}
	found := false
	for _, r := range d.Rules {
		if r.Key == "length.chars<200" && r.A == 0 && r.B > 0 {
			found = true
		}
	}
	if !found || !strings.Contains(out.String(), "kept in A, in B ") {
		t.Errorf("diff:\n%s", out.String())
	}
}
