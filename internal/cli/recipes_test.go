package cli

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// Every built-in recipe builds, passes its input checks and prints back as
// a config that parses to the same stage list.
func TestRecipesBuild(t *testing.T) {
	for _, name := range pipeline.Recipes() {
		cfg, err := LoadConfig(RunFlags{Recipe: name, Workers: -1, MaxMemory: -1})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		stages, _, err := NewRegistry().Build(cfg.Stages)
		if err == nil {
			err = pipeline.CheckInput(stages, cfg.Input)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		var out bytes.Buffer
		if err := PrintRecipe(&out, name); err != nil || !strings.Contains(out.String(), "# "+name+":") {
			t.Errorf("%s: config defaults --recipe printed %q (%v)", name, out.String(), err)
		}
	}
	if len(pipeline.Recipes()) < 3 {
		t.Errorf("recipes: %v", pipeline.Recipes())
	}
}

// recipeRun runs a recipe over paths and returns its kept and rejected rows.
func recipeRun(t *testing.T, recipe string, paths ...string) (kept, rejected []map[string]any, st *pipeline.Stats) {
	t.Helper()
	cfg, err := LoadConfig(RunFlags{Recipe: recipe, Inputs: paths, Output: filepath.Join(t.TempDir(), "out"), Workers: 0, MaxMemory: -1})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Input.Exclude = []string{"*.tsv", "SOURCES.md", "README.md"}
	res, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return testenv.ReadRows(t, filepath.Join(res.Dir, "shards")), testenv.ReadRows(t, filepath.Join(res.Dir, "rejected")), res.Stats
}

// The acceptance test of the default Chinese recipe: clean Chinese text
// longer than 200 characters is kept (≥ 95 %; dedup removals are counted
// apart), and the navigation/list pages of the web junk are dropped. The
// per-rule drop rates are logged for the closing note.
func TestZhWebRecipeOnCorpora(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jieba over 15 MB")
	}
	corpora := testenv.SharedCorpora(t)
	for _, c := range []struct {
		name string
		path string
	}{
		{"zh-prose", filepath.Join(corpora, "zh-prose")},
		{"zh-laws", filepath.Join(corpora, "zh-laws")},
		{"web/text-junk", filepath.Join(corpora, "web", "text-junk.jsonl")},
		{"web/text-clean", filepath.Join(corpora, "web", "text-clean.jsonl")},
	} {
		kept, rejected, _ := recipeRun(t, "zh-web", c.path)
		long, longKept, dups := 0, 0, 0
		reasons := map[string]int{}
		for _, r := range kept {
			if utf8.RuneCountInString(r["text"].(string)) > 200 {
				long++
				longKept++
			}
		}
		for _, r := range rejected {
			reason := r["drop_reason"].(string)
			reasons[reason]++
			if reason == "near_duplicate" || reason == "exact_duplicate" {
				dups++
				continue
			}
			if utf8.RuneCountInString(r["text"].(string)) > 200 {
				long++
			}
		}
		total := len(kept) + len(rejected)
		t.Logf("%s: %d documents, kept %d, removed as duplicates %d; of %d non-duplicates > 200 chars kept %d (%.1f %%); drops: %s",
			c.name, total, len(kept), dups, long, longKept, 100*float64(longKept)/float64(max(long, 1)), rates(reasons, total))
		if (c.name == "zh-prose" || c.name == "zh-laws") && float64(longKept) < 0.95*float64(long) {
			t.Errorf("%s: kept %d of %d documents > 200 chars, want ≥ 95 %%", c.name, longKept, long)
		}
		if c.name == "web/text-junk" {
			for _, r := range kept {
				if id := r["id"].(string); strings.HasPrefix(id, "zh-gne-list-") {
					t.Errorf("list page %s kept", id)
				}
			}
		}
	}
}

func rates(reasons map[string]int, total int) string {
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return reasons[keys[i]] > reasons[keys[j]] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d (%.1f %%)", k, reasons[k], 100*float64(reasons[k])/float64(total)))
	}
	return strings.Join(parts, ", ")
}

// en-web on English pages and zh-sft on the two Chinese Alpaca variants:
// per-rule drop rates for the note, and the outcomes that must hold.
func TestOtherRecipesOnCorpora(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jieba and lingua over the corpora")
	}
	corpora := testenv.SharedCorpora(t)
	kept, rejected, _ := recipeRun(t, "en-web", filepath.Join(corpora, "web", "en-web-sample.jsonl"), filepath.Join(corpora, "web", "text-clean.jsonl"))
	reasons := map[string]int{}
	for _, r := range rejected {
		reasons[r["drop_reason"].(string)]++
	}
	t.Logf("en-web on en-web-sample + text-clean: %d kept of %d; drops: %s", len(kept), len(kept)+len(rejected), rates(reasons, len(kept)+len(rejected)))
	if reasons["lang_not_kept"] == 0 {
		t.Error("en-web kept the Chinese pages of text-clean")
	}
	for _, r := range kept {
		if r["lang"] != "en" {
			t.Errorf("en-web kept %v in %v", r["id"], r["lang"])
		}
	}
	kept, rejected, _ = recipeRun(t, "zh-sft", filepath.Join(corpora, "zh-sft", "alpaca-zh", "carbonz0"), filepath.Join(corpora, "zh-sft", "alpaca-zh", "hikariming"))
	reasons = map[string]int{}
	for _, r := range rejected {
		reasons[r["drop_reason"].(string)]++
	}
	t.Logf("zh-sft on the two alpaca-zh variants: %d kept of %d; drops: %s", len(kept), len(kept)+len(rejected), rates(reasons, len(kept)+len(rejected)))
	// One variant is a hand-corrected copy of the other: most instructions
	// appear twice.
	if reasons["exact_duplicate"] < 3000 {
		t.Errorf("zh-sft removed %d exact duplicate instructions of ~3,250 pairs", reasons["exact_duplicate"])
	}
}
