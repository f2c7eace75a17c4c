package filters

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// flgTestList loads testdata/flagged/custom.txt.
func flgTestList(t testing.TB) *flgList {
	t.Helper()
	l, err := flgLoadList(filepath.Join("testdata", "flagged", "custom.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// flgCount counts matches of l in words (nil: the fallback split of text).
func flgCount(l *flgList, words []string, text string) int {
	c := &flgComputer{lists: map[string]*flgList{"default": l}}
	out := []float64{math.NaN(), math.NaN()}
	c.Compute(&Doc{Text: text, Words: words}, out)
	return int(out[1])
}

func TestFlaggedMatching(t *testing.T) {
	l := flgTestList(t)
	if l.terms != 8 {
		t.Errorf("custom.txt: %d terms, want 8", l.terms)
	}
	for _, tc := range []struct {
		name  string
		words []string // nil: no segment stage
		text  string
		want  int
	}{
		// Chinese: consecutive words spelling the term, never part of a word.
		{"one word", []string{"你", "这个", "白痴"}, "", 1},
		{"split by the segmenter", []string{"你", "这个", "白", "痴"}, "", 1},
		{"jieba's 白痴呆症 is [白 痴呆症]: no match", []string{"他", "患有", "白", "痴呆症", "吗"}, "", 0},
		{"inside a longer word: no match", []string{"白痴呆症"}, "", 0},
		{"punctuation between the words still joins", []string{"白", "，", "痴"}, "", 1},
		{"fallback split: every Han character a word, so 白痴呆症 matches", nil, "他患有白痴呆症吗", 1},
		{"fallback: two matches", nil, "白痴！傻逼。", 2},
		{"longest term wins, no overlap", []string{"他妈的"}, "", 1},
		{"longest term wins across words", []string{"他", "妈", "的"}, "", 1},
		{"shorter term when the longer is absent", []string{"他妈", "是"}, "", 1},
		// Space-separated: whole words, lower-cased, full-width folded.
		{"whole word only", nil, "We assess the class.", 0},
		{"whole word", nil, "What an ass.", 1},
		{"not across a word split", []string{"a", "ss"}, "", 0},
		{"multi-word term", nil, "You Son  of a\nBitch!", 1},
		{"multi-word term needs all words in order", nil, "son of a gun, bitch", 0},
		{"full-width term and text", nil, "ＦＵＣＫ this", 1},
		{"full-width term, ASCII text", []string{"Fuck", "this"}, "", 1},
		{"punctuation inside a term", nil, "S&M club", 1},
		{"punctuation inside a segmented word", []string{"S&M", "club"}, "", 1},
		{"no words", []string{}, "", 0},
		{"symbols only", []string{"！", "🙂"}, "", 0},
	} {
		if got := flgCount(l, tc.words, tc.text); got != tc.want {
			t.Errorf("%s: %d matches, want %d", tc.name, got, tc.want)
		}
	}
}

func TestFlaggedRatio(t *testing.T) {
	c := &flgComputer{lists: map[string]*flgList{"default": flgTestList(t)}}
	out := []float64{math.NaN(), math.NaN()}
	// 4 words (the "，" token is not a word), one match spanning two.
	c.Compute(&Doc{Words: []string{"你", "白", "痴", "，", "走"}}, out)
	if out[0] != 0.25 || out[1] != 1 {
		t.Errorf("ratio %v count %v, want 0.25 1", out[0], out[1])
	}
	c.Compute(&Doc{Words: []string{}}, out)
	if out[0] != 0 || out[1] != 0 {
		t.Errorf("no words: ratio %v count %v, want 0 0", out[0], out[1])
	}
}

// flgDefaultTh resolves the default thresholds with overrides.
func flgTh(t testing.TB, over Thresholds) Thresholds {
	t.Helper()
	th := FlaggedFamily.defaultOptions().Thresholds
	for lang, m := range over {
		if th[lang] == nil {
			th[lang] = map[string]*float64{}
		}
		for k, v := range m {
			th[lang][k] = v
		}
	}
	th, err := FlaggedFamily.resolve(th, "test")
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func flgRepeat(w string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = w
	}
	return out
}

// TestFlaggedRules: each rule just inside and just outside its threshold,
// in Chinese and English, with the exact drop reason (built-in lists).
func TestFlaggedRules(t *testing.T) {
	zero, one := 0.0, 1.0
	def := flgTh(t, nil)
	count0 := flgTh(t, Thresholds{"zh": {"max_flagged_count": &zero}, "en": {"max_flagged_count": &zero}})
	count1 := flgTh(t, Thresholds{"default": {"max_flagged_count": &one}})
	zh := func(fill int, hits ...string) []string { return append(flgRepeat("文字", fill), hits...) }
	en := func(fill int, hits ...string) []string { return append(flgRepeat("word", fill), hits...) }
	for _, tc := range []struct {
		name   string
		th     Thresholds
		lang   string
		words  []string
		reason string
	}{
		// max_flagged_ratio: zh 0.01, en and default 0.045.
		{"zh 1 in 100 = 0.01 kept", def, "zh", zh(99, "傻逼"), ""},
		{"zh 1 in 99 dropped", def, "zh", zh(98, "傻逼"), "flagged_words.flagged_ratio>0.01"},
		{"zh split word 1 in 100 kept", def, "zh", zh(98, "傻", "逼"), ""},
		{"zh split word 1 in 99 dropped", def, "zh", zh(97, "傻", "逼"), "flagged_words.flagged_ratio>0.01"},
		{"en 1 in 23 = 0.0435 kept", def, "en", en(22, "shit"), ""},
		{"en 1 in 22 = 0.0455 dropped", def, "en", en(21, "Shit"), "flagged_words.flagged_ratio>0.045"},
		{"en multi-word 1 in 23 kept", def, "en", en(19, "son", "of", "a", "bitch"), ""},
		{"en multi-word 1 in 22 dropped", def, "en", en(18, "son", "of", "a", "bitch"), "flagged_words.flagged_ratio>0.045"},
		{"other language: default list and threshold", def, "fr", en(21, "fuck"), "flagged_words.flagged_ratio>0.045"},
		{"no langid: default list", def, "", zh(20, "他妈的"), "flagged_words.flagged_ratio>0.045"},
		// max_flagged_count: off by default; 0 drops any match.
		{"zh count 0 kept", count0, "zh", zh(5000), ""},
		{"zh count 1 dropped", count0, "zh", zh(5000, "王八蛋"), "flagged_words.flagged_count>0"},
		{"en count 0 kept", count0, "en", en(5000, "assess"), ""},
		{"en count 1 dropped", count0, "en", en(5000, "asshole"), "flagged_words.flagged_count>0"},
		{"count 1 at threshold 1 kept", count1, "de", en(5000, "fuck"), ""},
		{"count 2 over threshold 1", count1, "de", en(5000, "fuck", "shit"), "flagged_words.flagged_count>1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := FlaggedFamily.NewComputer()
			out := []float64{math.NaN(), math.NaN()}
			c.Compute(&Doc{Words: tc.words, Lang: tc.lang}, out)
			if got := FlaggedFamily.Decide(tc.th, tc.lang, out); got != tc.reason {
				t.Errorf("reason %q, want %q (ratio %v, count %v)", got, tc.reason, out[0], out[1])
			}
		})
	}
}

func TestFlaggedBuiltinLists(t *testing.T) {
	for name := range flgBuiltins {
		l, err := flgLoadList(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if l.terms < 10 {
			t.Errorf("%s: %d terms", name, l.terms)
		}
	}
	if _, err := flgDefaultLists(); err != nil {
		t.Fatal(err)
	}
	// No single-character Chinese entry: they are ordinary words.
	data, _ := flgWordlistFS.ReadFile("wordlists/zh.txt")
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line[0] != '#' && len([]rune(line)) < 2 {
			t.Errorf("wordlists/zh.txt:%d: single-character term %q", n+1, line)
		}
	}
}

func TestFlaggedOptions(t *testing.T) {
	td := filepath.Join("testdata", "flagged")
	const where = "p.yaml:7: stages[2].flagged_words"
	for _, tc := range []struct {
		lists map[string]string
		err   string // "" = no error; else the error's text after where
	}{
		{map[string]string{"zh": filepath.Join(td, "custom.txt")}, ""},
		{map[string]string{"zh": filepath.Join(td, "bad_term.txt")}, `lists.zh: ` + filepath.Join(td, "bad_term.txt") + `:3: term "!!!" has no letter or digit`},
		{map[string]string{"en": filepath.Join(td, "bad_utf8.txt")}, `lists.en: ` + filepath.Join(td, "bad_utf8.txt") + `:2: not valid UTF-8`},
		{map[string]string{"en": filepath.Join(td, "empty.txt")}, `lists.en: ` + filepath.Join(td, "empty.txt") + `: word list has no terms`},
		{map[string]string{"en": filepath.Join(td, "missing.txt")}, `lists.en: word list: open ` + filepath.Join(td, "missing.txt") + `: no such file or directory`},
		{map[string]string{"EN": "builtin:en"}, `lists: "EN" is not a language code (two or three lowercase letters) or default`},
		{map[string]string{"en": "builtin:fr"}, `lists.en: unknown built-in list "builtin:fr"; built-in lists: builtin:all, builtin:en, builtin:zh`},
	} {
		o := FlaggedInfo.Defaults().(*FlaggedOptions)
		for k, v := range tc.lists {
			o.Lists[k] = v
		}
		_, err := FlaggedInfo.New(o, where)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%v: %v", tc.lists, err)
		case tc.err != "" && (err == nil || err.Error() != where+": "+tc.err):
			t.Errorf("%v: error %v\nwant %s: %s", tc.lists, err, where, tc.err)
		}
	}
	// A bad threshold key is the family's error.
	o := FlaggedInfo.Defaults().(*FlaggedOptions)
	one := 1.0
	o.Thresholds["zh"] = map[string]*float64{"max_ratio": &one}
	if _, err := FlaggedInfo.New(o, where); err == nil || !strings.Contains(err.Error(), `unknown rule "max_ratio"; rules: max_flagged_ratio, max_flagged_count`) {
		t.Errorf("bad rule: %v", err)
	}
}

// TestFlaggedStage runs configured stages on a Batch with segment-stage
// tokens: a custom zh list, English switched off, signals as columns.
func TestFlaggedStage(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	docs := []pipeline.Doc{{Text: "你这个白痴"}, {Text: "他患有白痴呆症"}, {Text: "fuck"}, {Text: "傻逼"}}
	b := pipeline.NewBatch(mem, 0, docs, []string{"s", "s", "s", "s"}, false)
	defer b.Release()
	b.Tokens = [][]string{{"你", "这个", "白痴"}, {"他", "患有", "白", "痴呆症"}, {"fuck"}, {"傻", "逼"}}
	o := FlaggedInfo.Defaults().(*FlaggedOptions)
	o.Lists["zh"] = filepath.Join("testdata", "flagged", "custom.txt")
	o.Lists["en"] = ""
	st, err := FlaggedInfo.New(o, "test")
	if err != nil {
		t.Fatal(err)
	}
	// The lang column comes from langid; rows 0, 1 and 3 are zh, 2 is en.
	setLang(t, b, []string{"zh", "zh", "en", "zh"})
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	wantReason := []string{"flagged_words.flagged_ratio>0.01", "", "", "flagged_words.flagged_ratio>0.01"}
	for i, w := range wantReason {
		if got := b.DropOf(i).Reason; got != w {
			t.Errorf("row %d: reason %q, want %q", i, got, w)
		}
	}
	ratio := b.Column("flagged_words_flagged_ratio").(*array.Float64)
	count := b.Column("flagged_words_flagged_count").(*array.Float64)
	if math.Abs(ratio.Value(0)-1.0/3) > 1e-12 || count.Value(1) != 0 || !ratio.IsNull(2) || count.Value(3) != 1 {
		t.Errorf("columns: ratio %v count %v", ratio, count)
	}
}

// setLang adds a lang column as the langid stage would.
func setLang(t *testing.T, b *pipeline.Batch, langs []string) {
	t.Helper()
	bld := array.NewStringBuilder(b.Allocator())
	defer bld.Release()
	bld.AppendValues(langs, nil)
	if err := b.SetColumn(arrow.Field{Name: "lang", Type: arrow.BinaryTypes.String, Nullable: true}, bld.NewArray()); err != nil {
		t.Fatal(err)
	}
}

// flgReadJSONL returns line n (0-based) of a JSON Lines file, decoded.
func flgReadJSONL(t testing.TB, path string, n int, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for i := 0; sc.Scan(); i++ {
		if i == n {
			if err := json.Unmarshal(sc.Bytes(), v); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%s has no line %d", path, n+1)
}

// flgRealDocs are real documents for the flagged_words rules.
type flgRealDoc struct {
	name, lang, text string
}

func flgRealDocs(t testing.TB) []flgRealDoc {
	root := testenv.SharedCorpora(t)
	var docs []flgRealDoc
	// ShareGPT line 402: a jailbreak answer listing English swear words
	// (shit, cunt, bitch, asshole) in Chinese; line 129: a "developer
	// mode" answer with 他妈的 and 婊子.
	for _, n := range []int{401, 128} {
		var conv insConvRec
		flgReadJSONL(t, filepath.Join(root, "zh-sft/sharegpt/sharegpt_zh_1K_format.jsonl"), n, &conv)
		docs = append(docs, flgRealDoc{fmt.Sprintf("sharegpt line %d", n+1), "zh", insRender(insShareGPTTurns(conv.Conversations))})
	}
	// Lu Xun, 论“他妈的！”: an essay about the phrase, 9 times in 2,200
	// characters; and 坚壁清野主义 with it once.
	for _, rel := range []string{"zh-prose/坟/论“他妈的！”.txt", "zh-prose/坟/坚壁清野主义.txt"} {
		data, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, flgRealDoc{rel, "zh", string(data)})
	}
	// web/text-clean.jsonl line 136: an English article quoting "really
	// fucking brilliant" once in 3,500 words.
	var rec struct{ ID, Text string }
	flgReadJSONL(t, filepath.Join(root, "web/text-clean.jsonl"), 135, &rec)
	if rec.ID != "en-sh-851498a2b9f4" {
		t.Fatalf("web/text-clean.jsonl line 136 is %s", rec.ID)
	}
	docs = append(docs, flgRealDoc{"web/text-clean.jsonl " + rec.ID, "en", rec.Text})
	return docs
}

// TestFlaggedRealRecords: real documents under the built-in lists, without
// the segment stage (fallback split; flagged_jieba_test.go repeats this
// with jieba's words).
func TestFlaggedRealRecords(t *testing.T) {
	docs := flgRealDocs(t)
	zero := 0.0
	def := flgTh(t, nil)
	count0 := flgTh(t, Thresholds{"default": {"max_flagged_count": &zero}, "en": {"max_flagged_count": &zero}, "zh": {"max_flagged_count": &zero}})
	want := []struct {
		count           int
		reason, reason0 string // default thresholds; with max_flagged_count 0
	}{
		{5, "flagged_words.flagged_ratio>0.01", "flagged_words.flagged_ratio>0.01"},
		{3, "", "flagged_words.flagged_count>0"},
		{10, "", "flagged_words.flagged_count>0"}, // the title, and 9 times in the text
		{1, "", "flagged_words.flagged_count>0"},
		{1, "", "flagged_words.flagged_count>0"},
	}
	c := FlaggedFamily.NewComputer()
	for i, d := range docs {
		out := []float64{math.NaN(), math.NaN()}
		c.Compute(&Doc{Text: d.text, Lang: d.lang}, out)
		r, r0 := FlaggedFamily.Decide(def, d.lang, out), FlaggedFamily.Decide(count0, d.lang, out)
		t.Logf("%s: ratio %.5f count %v: %q / %q", d.name, out[0], out[1], r, r0)
		if int(out[1]) != want[i].count || r != want[i].reason || r0 != want[i].reason0 {
			t.Errorf("%s: count %v reasons %q %q, want %d %q %q", d.name, out[1], r, r0, want[i].count, want[i].reason, want[i].reason0)
		}
	}
}

func BenchmarkFlagged(b *testing.B) {
	root := testenv.SharedCorpora(b)
	var texts []string
	var n int64
	for _, dir := range []string{"zh-prose/坟", "zh-prose/呐喊", "zh-prose/彷徨"} {
		paths, _ := filepath.Glob(filepath.Join(root, dir, "*.txt"))
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			texts = append(texts, string(data))
			n += int64(len(data))
		}
	}
	for _, mode := range []string{"fallback", "words"} {
		b.Run(mode, func(b *testing.B) {
			docs := make([]Doc, len(texts))
			for i, t := range texts {
				docs[i] = Doc{Text: t, Lang: "zh"}
				if mode == "words" {
					// Stand-in for jieba's words: two-character chunks.
					var w []string
					for j := 0; j < len(t); {
						k := j
						for r := 0; r < 2 && k < len(t); r++ {
							_, sz := utf8.DecodeRuneInString(t[k:])
							k += sz
						}
						w = append(w, t[j:k])
						j = k
					}
					docs[i].Words = w
				}
			}
			benchComputer(b, FlaggedFamily, docs, n)
		})
	}
}

// TestFlaggedConfig decodes options from YAML as a run does: a language's
// list is added to the defaults, thresholds merge per language, and a bad
// list names the config line and the list's file and line.
func TestFlaggedConfig(t *testing.T) {
	reg := pipeline.NewRegistry()
	reg.Register(FlaggedInfo)
	reg.Register(InstructionInfo)
	build := func(yml string) ([]pipeline.Stage, []any, error) {
		cfg, err := pipeline.ParseConfig([]byte(yml), "p.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return reg.Build(cfg.Stages)
	}
	custom := filepath.Join("testdata", "flagged", "custom.txt")
	_, opts, err := build(`stages:
  - flagged_words:
      lists: {zh: ` + custom + `, en: ""}
      thresholds: {zh: {max_flagged_count: 2}}
  - instruction:
      thresholds: {default: {max_lang_mismatch: null}}
`)
	if err != nil {
		t.Fatal(err)
	}
	fo := opts[0].(*FlaggedOptions)
	if fo.Lists["default"] != "builtin:all" || fo.Lists["zh"] != custom || fo.Lists["en"] != "" {
		t.Errorf("lists %v", fo.Lists)
	}
	if v := fo.Thresholds["zh"]["max_flagged_count"]; v == nil || *v != 2 {
		t.Errorf("zh thresholds %v", fo.Thresholds["zh"])
	}
	io := opts[1].(*FamilyOptions)
	if v, set := io.Thresholds["default"]["max_lang_mismatch"]; !set || v != nil {
		t.Errorf("instruction: max_lang_mismatch %v, want switched off", v)
	}
	_, _, err = build("stages:\n  - flagged_words:\n      lists: {zh: " + filepath.Join("testdata", "flagged", "bad_term.txt") + "}\n")
	want := `p.yaml:2: stages[0].flagged_words: lists.zh: ` + filepath.Join("testdata", "flagged", "bad_term.txt") + `:3: term "!!!" has no letter or digit`
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
}

// TestFlgSubwordsMatchesFields: the byte-level fast path for plain words
// splits as strings.FieldsFunc on flgWordRune does, on every word the
// segment stage makes of the shared corpora and on random strings.
func TestFlgSubwordsMatchesFields(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	pieces := []string{"a", "Z", "9", "中", "丁", "一", "鿿", "龥", "㐀", "'", "-", " ", "é", "\u0301", "，", "ｱ", "\xe4\xb8", "\xff", "😀"}
	var words []string
	for range 20000 {
		var sb strings.Builder
		for range rng.IntN(6) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		words = append(words, sb.String())
	}
	if !testing.Short() {
		var texts []string
		for _, d := range zhCorpus(t, "text-junk") {
			texts = append(texts, d.text)
		}
		for _, ws := range tuSegment(t, texts) {
			words = append(words, ws...)
		}
	}
	notWord := func(r rune) bool { return !flgWordRune(r) }
	for _, w := range words {
		if got, want := flgSubwords(nil, w), strings.FieldsFunc(w, notWord); !slices.Equal(got, want) {
			t.Fatalf("flgSubwords(%q) = %q, want %q", w, got, want)
		}
	}
}
