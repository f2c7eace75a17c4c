package filters

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
	"winnow/pipeline"
	"winnow/stages"
)

// ---- real documents ----

// tuDoc is a real document of the shared corpora.
type tuDoc struct {
	ID, Lang, Text string
}

// tuCorpus is one corpus of TestFamilyDropRates.
type tuCorpus struct {
	Name string
	Docs []tuDoc
}

var (
	tuCorporaOnce sync.Once
	tuCorporaData []tuCorpus
)

// tuLoadCorpora reads the corpora the drop rates are measured on (skips
// without the shared corpora): zh-prose (298 .txt, alt-edition left out),
// zh-laws (551 .md), web text-junk, text-clean and en-web-sample.
func tuLoadCorpora(t testing.TB) []tuCorpus {
	t.Helper()
	root := testenv.SharedCorpora(t)
	tuCorporaOnce.Do(func() {
		tuCorporaData = []tuCorpus{
			{"zh-prose", tuLoadFiles(t, filepath.Join(root, "zh-prose"), ".txt", "zh", "alt-edition")},
			{"zh-laws", tuLoadFiles(t, filepath.Join(root, "zh-laws"), ".md", "zh", "")},
			{"text-junk", tuLoadJSONL(t, filepath.Join(root, "web", "text-junk.jsonl"), "")},
			{"text-clean", tuLoadJSONL(t, filepath.Join(root, "web", "text-clean.jsonl"), "")},
			{"en-web-sample", tuLoadJSONL(t, filepath.Join(root, "web", "en-web-sample.jsonl"), "en")},
		}
	})
	return tuCorporaData
}

// tuLoadFiles reads every file with the suffix under dir (one document
// each, id = path relative to dir), leaving out the subfolder skip and
// SOURCES.md.
func tuLoadFiles(t testing.TB, dir, suffix, lang, skip string) []tuDoc {
	t.Helper()
	var docs []tuDoc
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && skip != "" && e.Name() == skip {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, suffix) || e.Name() == "SOURCES.md" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		docs = append(docs, tuDoc{ID: rel, Lang: lang, Text: string(b)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].ID < docs[j].ID })
	return docs
}

// tuLoadJSONL reads {"id", "text"} lines; lang "" takes the language from
// the id prefix (zh-…, en-…).
func tuLoadJSONL(t testing.TB, path, lang string) []tuDoc {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []tuDoc
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var rec struct{ ID, Text string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		l := lang
		if l == "" {
			l, _, _ = strings.Cut(rec.ID, "-")
		}
		docs = append(docs, tuDoc{ID: rec.ID, Lang: l, Text: rec.Text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return docs
}

// tuRealDoc finds one real document. src is a path under the shared
// corpora: a JSONL file of {"id", "text"} records (key = id), a JSON array
// or JSONL file of other records (key = "<record index>.<field>"), or a
// plain file (key "").
func tuRealDoc(t testing.TB, src, key string) string {
	t.Helper()
	path := filepath.Join(testenv.SharedCorpora(t), src)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if key == "" {
		return string(b)
	}
	var recs []map[string]any
	if strings.HasSuffix(src, ".jsonl") {
		for line := range strings.Lines(string(b)) {
			var r map[string]any
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			recs = append(recs, r)
		}
	} else if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	for _, r := range recs {
		if r["id"] == key {
			return r["text"].(string)
		}
	}
	var i int
	var field string
	if _, err := fmt.Sscanf(strings.Replace(key, ".", " ", 1), "%d %s", &i, &field); err != nil || i >= len(recs) {
		t.Fatalf("%s: no record %q", src, key)
	}
	s, ok := recs[i][field].(string)
	if !ok {
		t.Fatalf("%s: record %d has no string field %q", src, i, field)
	}
	return s
}

// tuRealCase is a real document that one rule drops.
type tuRealCase struct {
	rule     string // rule key
	src, key string // see tuRealDoc
	lang     string
	what     string // what the document is
}

// tuCheckRealDocs asserts that each rule's own check fires on its real
// document (with the default thresholds of the document's language; the
// first failing rule, which Decide reports, may be another one), and that
// every rule of the family has a case.
func tuCheckRealDocs(t *testing.T, f *Family, cases []tuRealCase) {
	testenv.SharedCorpora(t)
	th := tuDefaults(t, f)
	covered := map[string]bool{}
	c := f.NewComputer()
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			text := tuRealDoc(t, tc.src, tc.key)
			v := tuSignals(f, c, &Doc{Text: text, Lang: tc.lang})
			var rule Rule
			for _, r := range f.Rules {
				if r.Key == tc.rule {
					rule = r
				}
			}
			thr, on := th.threshold(tc.lang, rule.Key)
			x := v[f.signalIndex(rule.Signal)]
			isMax := strings.HasPrefix(rule.Key, "max_")
			if !on || !(isMax && x > thr || !isMax && x < thr) {
				t.Fatalf("%s %s (%s): %s = %v, threshold %v: the rule does not drop it", tc.src, tc.key, tc.what, rule.Signal, x, thr)
			}
			t.Logf("%s %s (%s, %s): %s = %.4g vs %v; Decide: %q", tc.src, tc.key, tc.what, tc.lang, rule.Signal, x, thr, f.Decide(th, tc.lang, v))
			covered[tc.rule] = true
		})
	}
	for _, r := range f.Rules {
		if !covered[r.Key] && !t.Failed() {
			t.Errorf("rule %s has no real document", r.Key)
		}
	}
}

// ---- computing signals ----

// tuSignals computes a family's signals for a document.
func tuSignals(f *Family, c Computer, d *Doc) []float64 {
	out := make([]float64, len(f.Signals))
	for i := range out {
		out[i] = math.NaN()
	}
	c.Compute(d, out)
	return out
}

// tuDefaults are a family's default thresholds as a stage resolves them.
func tuDefaults(t testing.TB, f *Family) Thresholds {
	t.Helper()
	th, err := f.resolve(f.defaultOptions().Thresholds, "test")
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// tuSignal returns one named signal.
func tuSignal(f *Family, v []float64, name string) float64 { return v[f.signalIndex(name)] }

// tuSegment runs the real segment stage (jieba for Chinese) over texts and
// returns its words.
func tuSegment(t testing.TB, texts []string) [][]string {
	t.Helper()
	st, err := stages.SegmentInfo.New(stages.SegmentInfo.Defaults(), "test")
	if err != nil {
		t.Fatal(err)
	}
	docs := make([]pipeline.Doc, len(texts))
	srcs := make([]string, len(texts))
	for i, s := range texts {
		docs[i] = pipeline.Doc{Text: s}
		srcs[i] = "test"
	}
	b := pipeline.NewBatch(memory.NewGoAllocator(), 0, docs, srcs, false)
	defer b.Release()
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return b.Tokens
}

// ---- hand-made documents ----

// tuRuleCase is a hand-made document and the drop reason Decide must give
// it with the default thresholds of its language ("" = kept). near bounds
// |signal − threshold| for the rule's signal (0: not checked), so that
// "just inside" and "just outside" stay just that.
type tuRuleCase struct {
	name   string
	lang   string
	text   string
	words  []string // Doc.Words, nil for the fallback tokenizer
	rule   string   // the rule the case is about
	reason string
	near   float64
}

// unreachable names the rule/lang/side combinations ("min_x/zh/out") no
// document can reach, with the reason.
func tuCheckRuleCases(t *testing.T, f *Family, cases []tuRuleCase, unreachable map[string]string) {
	th := tuDefaults(t, f)
	c := f.NewComputer()
	covered := map[string]int{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tuSignals(f, c, &Doc{Text: tc.text, Lang: tc.lang, Words: tc.words})
			got := f.Decide(th, tc.lang, v)
			var sig string
			for _, r := range f.Rules {
				if r.Key == tc.rule {
					sig = r.Signal
				}
			}
			if sig == "" {
				t.Fatalf("no rule %s", tc.rule)
			}
			x := tuSignal(f, v, sig)
			thr, _ := th.threshold(tc.lang, tc.rule)
			if got != tc.reason {
				t.Errorf("Decide = %q, want %q (%s = %v, threshold %v; signals %v)", got, tc.reason, sig, x, thr, v)
			}
			if tc.near > 0 && !(math.Abs(x-thr) <= tc.near) {
				t.Errorf("%s = %v is not within %v of the threshold %v", sig, x, tc.near, thr)
			}
			covered[tc.rule+"/"+tc.lang+"/"+map[bool]string{true: "in", false: "out"}[tc.reason == ""]]++
		})
	}
	for _, r := range f.Rules {
		for _, lang := range []string{"en", "zh"} {
			for _, side := range []string{"in", "out"} {
				if k := r.Key + "/" + lang + "/" + side; covered[k] == 0 && unreachable[k] == "" {
					t.Errorf("rule %s has no %s case %s the threshold", r.Key, lang, side+"side")
				}
			}
		}
	}
}

// tuEnWord returns the i-th of many distinct four-letter filler words
// ("qaaa", "qaab", …), none of them an English stop word.
func tuEnWord(i int) string {
	return string([]byte{'q', byte('a' + i/676%26), byte('a' + i/26%26), byte('a' + i%26)})
}

// tuEnWords returns n filler words from the i-th on.
func tuEnWords(from, n int) []string {
	w := make([]string, n)
	for k := range w {
		w[k] = tuEnWord(from + k)
	}
	return w
}

var tuZhCharCache []string

// tuZhChars returns n distinct Han filler characters from the i-th on:
// CJK Unified Ideographs (then Extension A) that are not in FineWeb-2's
// cmn stop-word list.
func tuZhChars(from, n int) []string {
	r := rune(0x4e00)
	if k := len(tuZhCharCache); k > 0 {
		r, _ = utf8.DecodeRuneInString(tuZhCharCache[k-1])
		r++
	}
	for len(tuZhCharCache) < from+n {
		if r == 0xa000 {
			r = 0x3400
		}
		if gopherStopWordsZh.index(string(r)) < 0 {
			tuZhCharCache = append(tuZhCharCache, string(r))
		}
		r++
	}
	return tuZhCharCache[from : from+n]
}

// tuZhChar returns the i-th Han filler character.
func tuZhChar(i int) string { return tuZhChars(i, 1)[0] }

// tuRepeat returns n copies of s.
func tuRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// tuCat concatenates string lists.
func tuCat(parts ...[]string) []string { return slices.Concat(parts...) }

// ---- golden signal files ----

// tuGoldenDocs are the real documents whose signals the golden files hold.
var tuGoldenDocs = []struct{ src, key, lang string }{
	{"zh-prose/呐喊/《呐喊》自序.txt", "", "zh"},
	{"zh-laws/宪法/宪法.md", "", "zh"},
	{"web/text-junk.jsonl", "zh-gne-list-163-1", "zh"},
	{"web/text-junk.jsonl", "zh-gne-sina-3", "zh"},
	{"web/text-clean.jsonl", "zh-mh-0987b0ff61a8", "zh"},
	{"web/text-clean.jsonl", "en-sh-04a6711caa7c", "en"},
	{"web/en-web-sample.jsonl", "en-dolma-000-0", "en"},
}

// tuCheckGolden compares a family's signals on tuGoldenDocs (fallback
// tokenizer) with testdata/<dir>/<family>.json; -update rewrites the file.
func tuCheckGolden(t *testing.T, f *Family, dir string) {
	type entry struct {
		Doc     string              `json:"doc"`
		Lang    string              `json:"lang"`
		Signals map[string]*float64 `json:"signals"`
		Reason  string              `json:"reason"`
	}
	th := tuDefaults(t, f)
	c := f.NewComputer()
	var got []entry
	for _, g := range tuGoldenDocs {
		v := tuSignals(f, c, &Doc{Text: tuRealDoc(t, g.src, g.key), Lang: g.lang})
		got = append(got, entry{Doc: strings.TrimSuffix(g.src+"#"+g.key, "#"), Lang: g.lang, Signals: signalMap(f, v), Reason: f.Decide(th, g.lang, v)})
	}
	path := filepath.Join("testdata", dir, f.Name+".json")
	var want []entry
	if !golden(t, path, got, &want) {
		return
	}
	if len(want) != len(got) {
		t.Fatalf("%s has %d documents, want %d (run with -update)", path, len(want), len(got))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Doc != w.Doc || g.Reason != w.Reason {
			t.Errorf("%s: reason %q, golden %s: %q", g.Doc, g.Reason, w.Doc, w.Reason)
		}
		for name, gv := range g.Signals {
			wv, ok := w.Signals[name]
			switch {
			case !ok:
				t.Errorf("%s: signal %s missing from %s", g.Doc, name, path)
			case (gv == nil) != (wv == nil):
				t.Errorf("%s: %s = %v, golden %v", g.Doc, name, tuPtr(gv), tuPtr(wv))
			case gv != nil && math.Abs(*gv-*wv) > 1e-9*math.Max(1, math.Abs(*wv)):
				t.Errorf("%s: %s = %v, golden %v", g.Doc, name, *gv, *wv)
			}
		}
	}
}

func tuPtr(p *float64) any {
	if p == nil {
		return "NaN"
	}
	return *p
}

// ---- unit tests of the helpers ----

func TestTuSplitLinesLikePython(t *testing.T) {
	// Expected values from Python 3: text.splitlines().
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a\n", []string{"a"}},
		{"a\n\nb", []string{"a", "", "b"}},
		{"\n\n", []string{"", ""}},
		{"a\r\nb\rc\vd\fe\x1cf\x1dg\x1eh", []string{"a", "b", "c", "d", "e", "f", "g", "h"}},
		{"一\u2028二\u2029三\u0085四", []string{"一", "二", "三", "四"}},
		{"a\r\r\nb", []string{"a", "", "b"}},
		{"“引号”…—", []string{"“引号”…—"}}, // E2 80 9C/9D/A6/94 are no breaks
		{"x\x1f", []string{"x\x1f"}},   // \x1f is white space, not a line break
	}
	for _, tc := range tests {
		var got []string
		for _, s := range tuSplitLines(nil, tc.in) {
			got = append(got, tc.in[s.start:s.end])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("splitlines(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTuSplitNewlineRunsLikeRe(t *testing.T) {
	// Expected values from Python 3: re.split("\n+", s), re.split("\n{2,}", s).
	tests := []struct {
		in          string
		lines, pars []string
	}{
		{"", []string{""}, []string{""}},
		{"a\nb\n\nc", []string{"a", "b", "c"}, []string{"a\nb", "c"}},
		{"\na\n", []string{"", "a", ""}, []string{"\na\n"}},
		{"a\n\n\n\nb\n\n", []string{"a", "b", ""}, []string{"a", "b", ""}},
	}
	for _, tc := range tests {
		for _, m := range []struct {
			min  int
			want []string
		}{{1, tc.lines}, {2, tc.pars}} {
			var got []string
			for _, s := range tuSplitNewlineRuns(nil, tc.in, m.min) {
				got = append(got, tc.in[s.start:s.end])
			}
			if !slices.Equal(got, m.want) {
				t.Errorf("split(%q, min %d) = %q, want %q", tc.in, m.min, got, m.want)
			}
		}
	}
	var got []string
	for _, s := range tuSplitNewline(nil, "a\n\nb\n") {
		got = append(got, "a\n\nb\n"[s.start:s.end])
	}
	if want := []string{"a", "", "b", ""}; !slices.Equal(got, want) {
		t.Errorf(`split("\n") = %q, want %q`, got, want)
	}
}

func TestTuWhiteSpaceLikePython(t *testing.T) {
	// Python: "\u3000\xa0\x1c\t".isspace() is True; "\u200b" and "\ufeff" are not space.
	for _, r := range "\u3000\u00a0\x1c\x1d\x1e\x1f\t\n\v\f\r \u0085\u2028\u2029\u202f\u205f\u1680" {
		if !tuIsSpace(r) {
			t.Errorf("%U should be white space", r)
		}
	}
	for _, r := range "\u200b\ufeffa一。" {
		if tuIsSpace(r) {
			t.Errorf("%U should not be white space", r)
		}
	}
	if got := tuTrim("\u3000 \t文本\u3000\r\n"); got != "文本" {
		t.Errorf("trim = %q", got)
	}
	if !tuIsBlank(" \u3000\t") || tuIsBlank(" \u200b ") {
		t.Error("tuIsBlank")
	}
}

func TestTuClassTable(t *testing.T) {
	for r := range rune(1 << 16) {
		if got, want := tuBMP[r], tuClassSlow(r); got != want {
			t.Fatalf("%U: table class %08b, want %08b", r, got, want)
		}
	}
}

func TestTuPunctuationSets(t *testing.T) {
	// filters-reference §9: PUNCTUATION has 66 visible characters.
	if n := utf8.RuneCountInString(tuDTPunctuation); n != 66 {
		t.Errorf("datatrove PUNCTUATION has %d visible characters here, want 66", n)
	}
	for _, r := range ".!?。！？．｡" {
		if !tuIsSentenceEnd(r) || !tuIsDTPunct(r) {
			t.Errorf("%q should be a sentence end in PUNCTUATION_SET", r)
		}
	}
	for _, r := range "…」』”）\"'·" {
		if tuIsSentenceEnd(r) {
			t.Errorf("%q should not be a sentence end", r)
		}
	}
	for _, r := range "·『』〔〕＃a一１" {
		if r != '１' && tuIsDTPunct(r) || r == '１' && !tuIsDTPunct(r) {
			t.Errorf("%q: wrong PUNCTUATION_SET membership", r)
		}
	}
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"他说：“走吧。”", true}, {"「好。」", true}, {"真的吗？）", true}, {"So it ends.\r", true},
		{"未完……", true}, {"wait...", true}, {"第一章　总则", false}, {"“引语”", false}, {"", false}, {"。」 \u3000", true},
	} {
		if got := tuEndsSentence(tc.line); got != tc.want {
			t.Errorf("tuEndsSentence(%q) = %v", tc.line, got)
		}
	}
}

func tuTokenStrings(text string, words []string) []string {
	var tk tuTokens
	tk.build(&Doc{Text: text, Words: words})
	var out []string
	for _, x := range tk.toks {
		out = append(out, text[x.start:x.end])
	}
	return out
}

func TestTuTokens(t *testing.T) {
	tests := []struct {
		text  string
		words []string
		want  []string
	}{
		{"Hello, world... It's 3.14 or 1,000!", nil,
			[]string{"Hello", ",", "world", "...", "It", "'s", "3.14", "or", "1,000", "!"}},
		{"我们喜欢Go语言。", nil, []string{"我", "们", "喜", "欢", "Go", "语", "言", "。"}},
		{"　　他说：“好……”\n", nil, []string{"他", "说", "：", "“", "好", "…", "…", "”"}},
		{"e-mail #tag", nil, []string{"e", "-", "mail", "#", "tag"}},
		// Words from a segmenter: punctuation between them comes back as
		// tokens, one per mark, as jieba yields it.
		{"我们，喜欢 Go！……", []string{"我们", "喜欢", "Go"}, []string{"我们", "，", "喜欢", "Go", "！", "…", "…"}},
		// Words that are not substrings in order: the fallback tokenizer.
		{"我们喜欢", []string{"喜欢", "我们"}, []string{"我", "们", "喜", "欢"}},
	}
	for _, tc := range tests {
		if got := tuTokenStrings(tc.text, tc.words); !slices.Equal(got, tc.want) {
			t.Errorf("tokens(%q, %q) = %q, want %q", tc.text, tc.words, got, tc.want)
		}
	}
	var tk tuTokens
	tk.build(&Doc{Text: "Hi 你好。", Words: nil})
	var flags []uint8
	for _, x := range tk.toks {
		flags = append(flags, x.flags)
	}
	if want := []uint8{tokWord | tokAlpha | tokNonSymbol, tokWord | tokAlpha | tokNonSymbol, tokWord | tokAlpha | tokNonSymbol, 0}; !slices.Equal(flags, want) {
		t.Errorf("flags %b, want %b", flags, want)
	}
}

func TestTuRuneCount(t *testing.T) {
	for _, s := range []string{"", "a", "中文文本", "mixed 中英 text with 𝄞 and é", strings.Repeat("鲁迅《呐喊》", 37) + "x"} {
		if got, want := tuRuneCount(s), utf8.RuneCountInString(s); got != want {
			t.Errorf("tuRuneCount(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestTuCharCount: tuCharCount is utf8.RuneCountInString, broken UTF-8
// included (random bytes, mostly from UTF-8 sequences).
func TestTuCharCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	pieces := []string{"a", "\n", "中", "é", "𝄞", "\xe4", "\xb8", "\xff", "\xed\xa0\x80", "\xe0\x80\x80", "\xf0\x9d"}
	for range 50000 {
		var sb strings.Builder
		for range rng.IntN(10) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := sb.String()
		if got, want := tuCharCount(s), utf8.RuneCountInString(s); got != want {
			t.Fatalf("tuCharCount(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestTuWordSet(t *testing.T) {
	for _, w := range []string{"the", "be", "to", "of", "and", "that", "have", "with"} {
		if gopherStopWordsEn.index(w) < 0 {
			t.Errorf("%q not found", w)
		}
	}
	for _, w := range []string{"The", "th", "them", "", "abcdefghij", "的"} {
		if gopherStopWordsEn.index(w) >= 0 {
			t.Errorf("%q found", w)
		}
	}
	for i, w := range []string{"的", "年", "在", "月", "是", "和", "日", "了", "於", "·", "為", "有", "被", "人", "中", "为", "他", "與", "後", "也", "而", "由"} {
		if got := gopherStopWordsZh.index(w); got != i {
			t.Errorf("%q: index %d, want %d", w, got, i)
		}
	}
}

func TestGopherRepetitionLargeCount(t *testing.T) {
	// 70 000 copies of one 2-gram: no count is bounded by a packed field.
	text := strings.Repeat("a b ", 70000)
	c := &grComputer{}
	v := tuSignals(GopherRepetition, c, &Doc{Text: text})
	// Most frequent 2-gram "a b" (first seen): 70 000 times, 3 characters.
	if got, want := tuSignal(GopherRepetition, v, "top_2_gram_char_frac"), 3*70000.0/float64(len(text)); math.Abs(got-want) > 1e-12 {
		t.Errorf("top_2_gram_char_frac = %v, want %v", got, want)
	}
}

// ---- drop rates over the shared corpora ----

// TestFamilyDropRates logs, per family, corpus and tokenization, how many
// documents each rule drops (first failing rule) with the default
// thresholds, and checks the targets of the default Chinese settings: with
// the segment stage's jieba words (the zh-web recipe runs segment before
// the filters) every family keeps ≥ 95 % of the zh-prose and zh-laws
// documents longer than 200 characters, and the four zh navigation/list
// pages of text-junk are each dropped by at least one family.
func TestFamilyDropRates(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus measurement")
	}
	corpora := tuLoadCorpora(t)
	families := []*Family{GopherQuality, GopherRepetition, C4, FineWeb}
	jieba := map[string][][]string{}
	for _, cp := range corpora {
		texts := make([]string, len(cp.Docs))
		for i, d := range cp.Docs {
			texts[i] = d.Text
		}
		jieba[cp.Name] = tuSegment(t, texts)
	}
	listPages := map[string]bool{"zh-gne-list-163-1": false, "zh-gne-list-163-2": false, "zh-gne-list-netease_forum-1": false, "zh-gne-list-tieba-1": false}
	for _, mode := range []string{"jieba", "chars"} {
		for _, f := range families {
			th := tuDefaults(t, f)
			c := f.NewComputer()
			var sb strings.Builder
			fmt.Fprintf(&sb, "%s, %s words (Doc.Words %s):\n", f.Name, mode, map[string]string{"jieba": "from the segment stage", "chars": "nil: fallback tokenizer"}[mode])
			for _, cp := range corpora {
				for _, lang := range []string{"zh", "en"} {
					var n, kept, n200, kept200 int
					reasons := map[string]int{}
					for i, d := range cp.Docs {
						if d.Lang != lang {
							continue
						}
						doc := &Doc{Text: d.Text, Lang: d.Lang}
						if mode == "jieba" {
							doc.Words = jieba[cp.Name][i]
						}
						r := f.Decide(th, d.Lang, tuSignals(f, c, doc))
						n++
						long := utf8.RuneCountInString(d.Text) > 200
						if long {
							n200++
						}
						if r == "" {
							kept++
							if long {
								kept200++
							}
						} else {
							reasons[strings.TrimPrefix(r, f.Name+".")]++
							if _, ok := listPages[d.ID]; ok {
								listPages[d.ID] = true
							}
						}
					}
					if n == 0 {
						continue
					}
					var rs []string
					for r, k := range reasons {
						rs = append(rs, fmt.Sprintf("%s %d", r, k))
					}
					sort.Strings(rs)
					fmt.Fprintf(&sb, "  %-14s %s  docs %4d  kept %4d (%5.1f %%)  >200 chars kept %4d/%4d (%5.1f %%)  dropped: %s\n",
						cp.Name, lang, n, kept, 100*float64(kept)/float64(n), kept200, n200, 100*float64(kept200)/float64(max(n200, 1)), strings.Join(rs, ", "))
					if mode == "jieba" && (cp.Name == "zh-prose" || cp.Name == "zh-laws") && float64(kept200) < 0.95*float64(n200) {
						t.Errorf("%s (jieba) keeps %d of %d %s documents over 200 characters, below 95 %%", f.Name, kept200, n200, cp.Name)
					}
				}
			}
			t.Log(sb.String())
		}
		for id, dropped := range listPages {
			if !dropped {
				t.Errorf("list page %s is dropped by no family (%s words)", id, mode)
			}
			listPages[id] = false
		}
	}
}

// ---- benchmarks ----

// BenchmarkFamily measures each family's Compute (segmentation excluded:
// jieba words are made once, before the timer) on zh-laws (11 MB of
// Chinese) with jieba words and with the fallback tokenizer, and on the
// English documents of the web corpora.
func BenchmarkFamily(b *testing.B) {
	corpora := tuLoadCorpora(b)
	var laws, en []tuDoc
	for _, cp := range corpora {
		for _, d := range cp.Docs {
			switch {
			case cp.Name == "zh-laws":
				laws = append(laws, d)
			case d.Lang == "en":
				en = append(en, d)
			}
		}
	}
	texts := make([]string, len(laws))
	for i, d := range laws {
		texts[i] = d.Text
	}
	lawWords := tuSegment(b, texts)
	sets := []struct {
		name  string
		docs  []tuDoc
		words [][]string
	}{
		{"zh-laws-jieba", laws, lawWords},
		{"zh-laws-chars", laws, nil},
		{"en", en, nil},
	}
	for _, f := range []*Family{GopherQuality, GopherRepetition, C4, FineWeb} {
		for _, set := range sets {
			b.Run(f.Name+"/"+set.name, func(b *testing.B) {
				c := f.NewComputer()
				out := make([]float64, len(f.Signals))
				var size int64
				for _, d := range set.docs {
					size += int64(len(d.Text))
				}
				b.SetBytes(size)
				cpu0 := testenv.ProcessCPU()
				for b.Loop() {
					for i, d := range set.docs {
						doc := Doc{Text: d.Text, Lang: d.Lang}
						if set.words != nil {
							doc.Words = set.words[i]
						}
						c.Compute(&doc, out)
					}
				}
				testenv.ReportMBPerCPU(b, size, testenv.ProcessCPU()-cpu0)
			})
		}
	}
}

// tuStageRun runs a family as a stage over texts (one language) and returns
// the drop reasons and the first signal column.
func tuStageRun(t *testing.T, f *Family, lang string, texts []string) (reasons []string, first []any) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	docs := make([]pipeline.Doc, len(texts))
	srcs := make([]string, len(texts))
	for i, s := range texts {
		docs[i] = pipeline.Doc{Text: s}
		srcs[i] = "test"
	}
	b := pipeline.NewBatch(mem, 0, docs, srcs, false)
	defer b.Release()
	lb := array.NewStringBuilder(mem)
	for range texts {
		lb.Append(lang)
	}
	la := lb.NewArray()
	lb.Release()
	if err := b.SetColumn(arrow.Field{Name: "lang", Type: arrow.BinaryTypes.String, Nullable: true}, la); err != nil {
		t.Fatal(err)
	}
	info := f.NewStageInfo()
	st, err := info.New(info.Defaults(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	col := b.Column(f.Column(f.Signals[0].Name))
	for i := range texts {
		reasons = append(reasons, b.DropOf(i).Reason)
		first = append(first, col.GetOneForMarshal(i))
	}
	return reasons, first
}

// TestTuRune3: tuRune3 accepts exactly the three-byte sequences that
// utf8.DecodeRuneInString reads as one character, with the same value
// (every lead byte, all continuation bytes).
func TestTuRune3(t *testing.T) {
	b := make([]byte, 3)
	for x := range 1 << 24 {
		b[0], b[1], b[2] = byte(x>>16), byte(x>>8), byte(x)
		s := string(b)
		r, ok := tuRune3(s, 0)
		want, n := utf8.DecodeRuneInString(s)
		if ok != (n == 3) || ok && r != want {
			t.Fatalf("tuRune3(%q) = %U, %v; DecodeRuneInString: %U, %d", s, r, ok, want, n)
		}
	}
	if _, ok := tuRune3("中", 1); ok {
		t.Error("tuRune3 reads past the end")
	}
}
