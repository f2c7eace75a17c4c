package stages

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"winnow/internal/testenv"
)

// piiCorpusDocs returns the documents of a corpus directory: every string
// value of .json/.jsonl records (so JSON escapes such as \n do not sit next
// to the numbers) and whole .txt/.md files.
func piiCorpusDocs(t testing.TB, dir string) []string {
	t.Helper()
	var docs []string
	var collect func(v any)
	collect = func(v any) {
		switch v := v.(type) {
		case string:
			docs = append(docs, v)
		case []any:
			for _, e := range v {
				collect(e)
			}
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				collect(v[k])
			}
		}
	}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch filepath.Ext(p) {
		case ".json", ".jsonl":
			var whole any
			if json.Unmarshal(b, &whole) == nil {
				collect(whole)
				return nil
			}
			for _, line := range strings.Split(string(b), "\n") {
				var v any
				if json.Unmarshal([]byte(line), &v) == nil {
					collect(v)
				}
			}
		case ".txt", ".md":
			docs = append(docs, string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// TestPIICorpora scans two real corpora and logs the matches per type with
// up to five examples each, in context. zh-laws is full of dates, article
// numbers, document numbers and amounts, none of them an id or a card.
func TestPIICorpora(t *testing.T) {
	corpora := testenv.SharedCorpora(t)
	p := newTestPII(t, nil)
	for _, c := range []struct {
		name   string
		dir    string
		forbid []piiKind // must not occur at all
	}{
		{"zh-sft/medicalgpt", filepath.Join(corpora, "zh-sft", "medicalgpt"), nil},
		{"zh-laws", filepath.Join(corpora, "zh-laws"), []piiKind{piiCNID, piiBankCard, piiCNMobile, piiPassport, piiURLCred}},
	} {
		docs := piiCorpusDocs(t, c.dir)
		var counts [piiKinds]int
		examples := map[piiKind][]string{}
		bytes := 0
		for _, d := range docs {
			bytes += len(d)
			for _, m := range piiSpans(p, d) {
				counts[m.kind]++
				if len(examples[m.kind]) < 5 {
					examples[m.kind] = append(examples[m.kind], piiContext(d, m))
				}
			}
		}
		t.Logf("%s: %d documents, %.1f MB", c.name, len(docs), float64(bytes)/1e6)
		for k := range piiKinds {
			t.Logf("  %-10s %5d  %s", k, counts[k], strings.Join(examples[k], "  |  "))
		}
		for _, k := range c.forbid {
			if counts[k] != 0 {
				t.Errorf("%s: %d %s matches, want none: %s", c.name, counts[k], k, strings.Join(examples[k], "  |  "))
			}
		}
	}
}

// piiContext shows a match with up to 12 characters on each side.
func piiContext(s string, m piiMatch) string {
	before := []rune(s[:m.start])
	after := []rune(s[m.end:])
	if len(before) > 12 {
		before = before[len(before)-12:]
	}
	if len(after) > 12 {
		after = after[:12]
	}
	r := strings.NewReplacer("\n", "⏎", "\t", " ")
	return r.Replace(string(before)) + "【" + s[m.start:m.end] + "】" + r.Replace(string(after))
}
