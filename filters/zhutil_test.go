package filters

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"

	"winnow/internal/testenv"
)

// Test helpers shared by zh_test.go and text_stats_test.go: the readers of
// the shared corpora, threshold builders.

// zhCorpusDoc is one real document of the shared corpora.
type zhCorpusDoc struct {
	set, id, lang, text string
}

var (
	zhCorpusMu    sync.Mutex
	zhCorpusCache = map[string][]zhCorpusDoc{}
)

// zhCorpus returns the documents of a named set of the shared corpora
// (skipping the test when they are absent):
//
//	zh-prose     every .txt under zh-prose/ except alt-edition/ (298), lang zh
//	zh-laws      every .md under zh-laws/ except SOURCES.md (551), lang zh
//	text-junk    web/text-junk.jsonl (234), lang = the id's prefix (zh-…, en-…)
//	text-clean   web/text-clean.jsonl (163), likewise
//	medicalgpt   zh-sft/medicalgpt/data/sft/medical_sft_1K_format.jsonl (1000)
//	sharegpt     zh-sft/sharegpt/sharegpt_zh_1K_format.jsonl (465)
//	dpo          zh-sft/medicalgpt/data/reward/dpo_zh_500.jsonl: prompt + chosen, prompt + rejected (1000)
//	mojibake     encoding/mojibake-cases/zh-mojibake.jsonl, the garbled strings (90)
//
// Instruction records are rendered as the readers render them: message
// contents joined by "\n\n" (stages/record.go renderMessages); their lang
// is set to zh (the ShareGPT set holds some English and Russian threads
// that langid would label otherwise).
func zhCorpus(t testing.TB, set string) []zhCorpusDoc {
	t.Helper()
	root := testenv.SharedCorpora(t)
	zhCorpusMu.Lock()
	defer zhCorpusMu.Unlock()
	if docs, ok := zhCorpusCache[set]; ok {
		return docs
	}
	var docs []zhCorpusDoc
	switch set {
	case "zh-prose":
		docs = zhLoadFiles(t, filepath.Join(root, "zh-prose"), ".txt", set)
	case "zh-laws":
		docs = zhLoadFiles(t, filepath.Join(root, "zh-laws"), ".md", set)
	case "text-junk", "text-clean":
		docs = zhLoadJSONL(t, filepath.Join(root, "web", set+".jsonl"), set)
	case "medicalgpt":
		docs = zhLoadConversations(t, filepath.Join(root, "zh-sft/medicalgpt/data/sft/medical_sft_1K_format.jsonl"), set)
	case "sharegpt":
		docs = zhLoadConversations(t, filepath.Join(root, "zh-sft/sharegpt/sharegpt_zh_1K_format.jsonl"), set)
	case "dpo":
		docs = zhLoadConversations(t, filepath.Join(root, "zh-sft/medicalgpt/data/reward/dpo_zh_500.jsonl"), set)
	case "mojibake":
		docs = zhLoadJSONL(t, filepath.Join(root, "encoding/mojibake-cases/zh-mojibake.jsonl"), set)
	default:
		t.Fatalf("unknown corpus set %q", set)
	}
	if len(docs) == 0 {
		t.Fatalf("corpus set %s is empty", set)
	}
	zhCorpusCache[set] = docs
	return docs
}

// zhCorpusDocByID returns one document of a set.
func zhCorpusDocByID(t testing.TB, set, id string) zhCorpusDoc {
	t.Helper()
	for _, d := range zhCorpus(t, set) {
		if d.id == id {
			return d
		}
	}
	t.Fatalf("%s has no document %q", set, id)
	return zhCorpusDoc{}
}

// zhLoadFiles reads every file under base whose name ends in ext; the id
// is the path below base.
func zhLoadFiles(t testing.TB, base, ext, set string) []zhCorpusDoc {
	t.Helper()
	var out []zhCorpusDoc
	err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == "alt-edition" {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(p, ext) || e.Name() == "SOURCES.md" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		out = append(out, zhCorpusDoc{set: set, id: filepath.ToSlash(rel), lang: "zh", text: string(b)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// zhLoadJSONL reads {"id", "text"} records (web/) or the mojibake cases
// ({"row", "garbled"}: id "row-<n>", lang zh).
func zhLoadJSONL(t testing.TB, path, set string) []zhCorpusDoc {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []zhCorpusDoc
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r struct {
			ID, Text, Garbled string
			Row               int
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if set == "mojibake" {
			out = append(out, zhCorpusDoc{set: set, id: "row-" + strconv.Itoa(r.Row), lang: "zh", text: r.Garbled})
			continue
		}
		out = append(out, zhCorpusDoc{set: set, id: r.ID, lang: r.ID[:2], text: r.Text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// zhLoadConversations reads ShareGPT-style JSON Lines, one document per
// record (id "<set>-<line>"), or with chosen/rejected answers two
// ("<set>-<line>-chosen", "-rejected"), each the prompt plus that answer.
func zhLoadConversations(t testing.TB, path, set string) []zhCorpusDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []zhCorpusDoc
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct {
			Conversations    []struct{ From, Value string }
			Chosen, Rejected string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		var parts []string
		for _, m := range r.Conversations {
			if m.Value != "" {
				parts = append(parts, m.Value)
			}
		}
		id := set + "-" + strconv.Itoa(i+1)
		if r.Chosen == "" && r.Rejected == "" {
			out = append(out, zhCorpusDoc{set: set, id: id, lang: "zh", text: strings.Join(parts, "\n\n")})
			continue
		}
		out = append(out,
			zhCorpusDoc{set: set, id: id + "-chosen", lang: "zh", text: strings.Join(append(parts[:len(parts):len(parts)], r.Chosen), "\n\n")},
			zhCorpusDoc{set: set, id: id + "-rejected", lang: "zh", text: strings.Join(append(parts[:len(parts):len(parts)], r.Rejected), "\n\n")})
	}
	return out
}

// zhDefaults are a family's resolved default thresholds.
func zhDefaults(t testing.TB, f *Family) Thresholds {
	t.Helper()
	th, err := f.resolve(f.defaultOptions().Thresholds, "test")
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// zhOnly are thresholds with a single rule on, for lang and nothing else.
func zhOnly(lang, key string, v float64) Thresholds {
	return Thresholds{lang: {key: &v}}
}

// zhWith are the defaults with some keys of lang changed.
func zhWith(t testing.TB, f *Family, lang string, keys map[string]float64) Thresholds {
	t.Helper()
	th := zhDefaults(t, f)
	if th[lang] == nil {
		th[lang] = map[string]*float64{}
	}
	for k, v := range keys {
		th[lang][k] = &v
	}
	return th
}

// zhSignals computes a family's signals for one document.
func zhSignals(f *Family, c Computer, text, lang string) []float64 {
	out := make([]float64, len(f.Signals))
	for i := range out {
		out[i] = math.NaN()
	}
	c.Compute(&Doc{Text: text, Lang: lang}, out)
	return out
}

// zhSignalMap names the values of zhSignals.
func zhSignalMap(f *Family, vals []float64) map[string]float64 {
	m := map[string]float64{}
	for i, s := range f.Signals {
		m[s.Name] = vals[i]
	}
	return m
}

func TestZhClassTable(t *testing.T) {
	zhClassInit()
	for _, c := range []struct {
		r    rune
		want zhClass
	}{
		{'a', zhcLetter},
		{'7', zhcNumber | zhcDigit},
		{'７', zhcNumber | zhcDigit},
		{'一', zhcLetter | zhcHan},
		{'上', zhcLetter | zhcHan},
		{'〇', zhcNumber | zhcHan},
		{'々', zhcLetter | zhcHan},
		{'ン', zhcLetter | zhcKana},
		{'ー', zhcLetter | zhcKana},
		{'，', zhcPunct},
		{'【', zhcPunct},
		{'￥', zhcSymbol},
		{'★', zhcSymbol},
		{'😀', zhcSymbol},
		{'\u3000', zhcSpace},
		{'\u0085', zhcSpace},
		{'\n', zhcSpace},
		{'\u200b', zhcControl},
		{'\ufeff', zhcControl},
		{'\U00020000', zhcLetter | zhcHan},
		{'\u0301', zhcMark},
	} {
		if got := zhClassOf(c.r); got != c.want {
			t.Errorf("zhClassOf(%U) = %b, want %b", c.r, got, c.want)
		}
	}
	// The table agrees with the unicode package everywhere in the BMP.
	for r := rune(0); r < 0x10000; r++ {
		c := zhClassOf(r)
		if (c&zhcLetter != 0) != unicode.IsLetter(r) || (c&zhcSpace != 0) != unicode.IsSpace(r) ||
			(c&zhcHan != 0) != unicode.Is(unicode.Han, r) || (c&zhcDigit != 0) != unicode.IsDigit(r) {
			t.Fatalf("class of %U = %b disagrees with unicode", r, c)
		}
	}
}

// TestZhFamiliesArbitraryInput: invalid UTF-8, control characters and
// random mixes never panic, and every share stays in [0, 1].
func TestZhFamiliesArbitraryInput(t *testing.T) {
	alphabet := []string{"中", "文", "a", "Z", "7", "７", "，", "。", "\n", "\r", " ", "\u3000", "【", "】", "[", "]", "更多", ">>", "\xff", "\xe4\xb8", "\u200b", "😀", "\U00020000", "://", "www.", "http", "\u0301", "'", ".", ","}
	comps := []Computer{ZhQuality.NewComputer(), TextStats.NewComputer()}
	fams := []*Family{ZhQuality, TextStats}
	seed := uint64(1)
	for range 3000 {
		var b strings.Builder
		seed = seed*6364136223846793005 + 1442695040888963407
		n := int(seed>>58) * 3
		for range n {
			seed = seed*6364136223846793005 + 1442695040888963407
			b.WriteString(alphabet[int(seed>>33)%len(alphabet)])
		}
		text := b.String()
		for i, f := range fams {
			vals := zhSignals(f, comps[i], text, "zh")
			for j, v := range vals {
				name := f.Signals[j].Name
				if strings.HasSuffix(name, "_frac") && !math.IsNaN(v) && (v < 0 || v > 1) {
					t.Fatalf("%s.%s = %v for %q", f.Name, name, v, text)
				}
				if v < 0 {
					t.Fatalf("%s.%s = %v for %q", f.Name, name, v, text)
				}
			}
		}
	}
}
