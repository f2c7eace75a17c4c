package stages

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/pipeline"
)

var segUpdate = flag.Bool("update-segment", false, "rewrite the segment golden files in testdata/segment")

// newTestSegment builds the stage from options, as the registry would.
func newTestSegment(t testing.TB, edit func(*SegmentOptions)) pipeline.Stage {
	t.Helper()
	opts := SegmentInfo.Defaults().(*SegmentOptions)
	if edit != nil {
		edit(opts)
	}
	st, err := SegmentInfo.New(opts, "test.yaml:1: stages[0].segment")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// segmentBatch runs st on a batch of texts (with a lang column when langs
// is not nil, rows in drop dropped first) and returns the batch; the caller
// releases it.
func segmentBatch(t testing.TB, mem memory.Allocator, st pipeline.Stage, texts, langs []string, drop ...int) *pipeline.Batch {
	t.Helper()
	docs := make([]pipeline.Doc, len(texts))
	sources := make([]string, len(texts))
	for i, s := range texts {
		docs[i] = pipeline.Doc{Text: s, Offset: int64(i)}
		sources[i] = "test"
	}
	b := pipeline.NewBatch(mem, 0, docs, sources, false)
	if langs != nil {
		lb := array.NewStringBuilder(mem)
		lb.AppendValues(langs, nil)
		if err := b.SetColumn(arrow.Field{Name: "lang", Type: arrow.BinaryTypes.String}, lb.NewArray()); err != nil {
			t.Fatal(err)
		}
		lb.Release()
	}
	for _, i := range drop {
		b.Drop(i, "earlier", "earlier.test")
	}
	if err := st.Process(context.Background(), b); err != nil {
		b.Release()
		t.Fatal(err)
	}
	return b
}

// segmentWords returns the stage's words for each text.
func segmentWords(t testing.TB, st pipeline.Stage, texts ...string) [][]string {
	t.Helper()
	b := segmentBatch(t, memory.DefaultAllocator, st, texts, nil)
	defer b.Release()
	return b.Tokens
}

func TestSegmentWords(t *testing.T) {
	st := newTestSegment(t, nil)
	cases := []struct {
		text string
		want []string
	}{
		{"", []string{}},
		{"我来到北京清华大学", []string{"我", "来到", "北京", "清华大学"}},
		// cppjieba alone cuts names next to CJK quotes into characters.
		{"“范爱农”和《范爱农》", []string{"范爱农", "和", "范爱农"}},
		{"Hello, world! It's 3.14.", []string{"Hello", "world", "It's", "3.14"}},
		{"我用Python写代码", []string{"我用", "Python", "写", "代码"}}, // as gojieba
		{"T恤和B超，C++和AT&T", []string{"T恤", "和", "B超", "C++", "和", "AT&T"}},
		{"价格是3.14元，涨了50%。", []string{"价格", "是", "3.14", "元", "涨", "了", "50"}},
		{"俄语Привет的意思", []string{"俄语", "Привет", "的", "意思"}},
		{"The word 中国 means China.", []string{"The", "word", "中国", "means", "China"}},
		{"，。！？……——「」", []string{}},
		{"😀👍🏽🎉 ©®™", []string{}},
		{"  \t\n\r\u3000 ", []string{}},
		{"e-mail café naïve", []string{"e", "mail", "café", "naïve"}},
	}
	texts := make([]string, len(cases))
	for i, c := range cases {
		texts[i] = c.text
	}
	got := segmentWords(t, st, texts...)
	for i, c := range cases {
		if !reflect.DeepEqual(got[i], c.want) {
			t.Errorf("segment(%q)\n got %q\nwant %q", c.text, got[i], c.want)
		}
	}
}

// TestSegmentBatchContract checks the Batch side: tokens and word_count for
// alive rows, nil and null for dropped ones, counters, and that every word
// is a substring of its text.
func TestSegmentBatchContract(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	st := newTestSegment(t, nil)
	texts := []string{"我来到北京清华大学。", "dropped 被丢弃", "", "Mixed 中文 text"}
	b := segmentBatch(t, mem, st, texts, nil, 1)
	defer b.Release()

	wc, ok := b.Column("word_count").(*array.Int64)
	if !ok {
		t.Fatalf("word_count column missing or not int64: %v", b.Column("word_count"))
	}
	wantCounts := []int64{4, -1, 0, 3} // -1: null
	for i, want := range wantCounts {
		if want < 0 {
			if wc.IsValid(i) || b.Tokens[i] != nil {
				t.Errorf("row %d dropped: word_count %v, tokens %q; want null and nil", i, wc.Value(i), b.Tokens[i])
			}
			continue
		}
		if !wc.IsValid(i) || wc.Value(i) != want || int64(len(b.Tokens[i])) != want || b.Tokens[i] == nil {
			t.Errorf("row %d: word_count %d (valid %v), %d tokens %q; want %d", i, wc.Value(i), wc.IsValid(i), len(b.Tokens[i]), b.Tokens[i], want)
		}
		for _, w := range b.Tokens[i] {
			if !strings.Contains(texts[i], w) {
				t.Errorf("row %d: token %q is not in the text", i, w)
			}
		}
	}
	if !b.Alive(0) || b.AliveCount() != 3 {
		t.Errorf("segment changed which rows are alive: %d alive", b.AliveCount())
	}
}

// TestSegmentStats checks what the counters are made of on one mixed
// document: pipeline tests read the counters themselves back from stats.json.
func TestSegmentStats(t *testing.T) {
	jb, err := sharedJieba("")
	if err != nil {
		t.Fatal(err)
	}
	seg := segmenter{jb: jb, hmm: true}
	var sc segScratch
	text := "中文 and English，再见"
	got, err := seg.segment(&sc, text, true)
	if err != nil {
		t.Fatal(err)
	}
	want := segStats{jiebaTokens: 2, unisegTokens: 2, jiebaBytes: len("中文") + len("再见"), unisegBytes: len(" and English，")}
	if got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

// TestSegmentLangHint: a lang column marks Japanese, whose kanji jieba's
// Chinese dictionary would cut as Chinese words; other languages and a
// missing or "und" lang leave the script rules in charge.
func TestSegmentLangHint(t *testing.T) {
	st := newTestSegment(t, nil)
	text := "日本語の文章も少しあります"
	b := segmentBatch(t, memory.DefaultAllocator, st, []string{text, text, "我来到北京"}, []string{"ja", "und", "zh"})
	defer b.Release()
	if want := []string{"日", "本", "語", "の", "文", "章", "も", "少", "し", "あ", "り", "ま", "す"}; !reflect.DeepEqual(b.Tokens[0], want) {
		t.Errorf("lang=ja: %q, want uniseg's %q", b.Tokens[0], want)
	}
	if !slices.Contains(b.Tokens[1], "日本") {
		t.Errorf("lang=und: %q, want jieba's words for the Han runs", b.Tokens[1])
	}
	if want := []string{"我", "来到", "北京"}; !reflect.DeepEqual(b.Tokens[2], want) {
		t.Errorf("lang=zh: %q, want %q", b.Tokens[2], want)
	}

	none := newTestSegment(t, func(o *SegmentOptions) { o.UnisegLangs = nil })
	b2 := segmentBatch(t, memory.DefaultAllocator, none, []string{text}, []string{"ja"})
	defer b2.Release()
	if !slices.Contains(b2.Tokens[0], "日本") {
		t.Errorf("uniseg_langs: [] with lang=ja: %q, want jieba's words", b2.Tokens[0])
	}
}

func TestSegmentHMMOption(t *testing.T) {
	// 范爱农 is not in the dictionary: only the HMM joins it.
	on := segmentWords(t, newTestSegment(t, nil), "他叫范爱农")[0]
	off := segmentWords(t, newTestSegment(t, func(o *SegmentOptions) { o.HMM = false }), "他叫范爱农")[0]
	if want := []string{"他", "叫", "范爱农"}; !reflect.DeepEqual(on, want) {
		t.Errorf("hmm: true: %q, want %q", on, want)
	}
	if want := []string{"他", "叫", "范", "爱", "农"}; !reflect.DeepEqual(off, want) {
		t.Errorf("hmm: false: %q, want %q", off, want)
	}
}

func TestSegmentOptionErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.dict")
	if err := os.WriteFile(bad, []byte("好词\n一 二 三 四\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badFreq := filepath.Join(dir, "freq.dict")
	if err := os.WriteFile(badFreq, []byte("好词 1.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notUTF8 := filepath.Join(dir, "gbk.dict")
	if err := os.WriteFile(notUTF8, []byte("\xba\xc3\xb4\xca\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		edit func(*SegmentOptions)
		want []string
	}{
		{func(o *SegmentOptions) { o.UserDicts = []string{filepath.Join(dir, "missing.dict")} }, []string{"test.yaml:1: stages[0].segment", "user_dicts[0]", "missing.dict", "no such file"}},
		{func(o *SegmentOptions) { o.UserDicts = []string{bad} }, []string{"user_dicts[0]", "bad.dict:2:", "4 fields"}},
		{func(o *SegmentOptions) { o.UserDicts = []string{badFreq} }, []string{"freq.dict:1:", `frequency "1.5"`}},
		{func(o *SegmentOptions) { o.UserDicts = []string{notUTF8} }, []string{"gbk.dict: not valid UTF-8"}},
		{func(o *SegmentOptions) { o.UnisegLangs = []string{"JA"} }, []string{"uniseg_langs[0]", `"JA"`}},
	}
	for _, c := range cases {
		opts := SegmentInfo.Defaults().(*SegmentOptions)
		c.edit(opts)
		_, err := SegmentInfo.New(opts, "test.yaml:1: stages[0].segment")
		if err == nil {
			t.Errorf("options %+v: no error", *opts)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("options %+v: error %q lacks %q", *opts, err, w)
			}
		}
	}
}

// TestSegmentUserDict: domain terms that jieba's dictionary splits stay
// whole with a user dictionary.
func TestSegmentUserDict(t *testing.T) {
	text := "被告人以高息为诱饵非法吸收公众存款，构成集资诈骗罪；患者冠状动脉粥样硬化。"
	def := segmentWords(t, newTestSegment(t, nil), text)[0]
	for _, split := range [][]string{{"非法", "吸收", "公众", "存款"}, {"冠状动脉", "粥样", "硬化"}} {
		if i := slices.Index(def, split[0]); i < 0 || !slices.Equal(def[i:i+len(split)], split) {
			t.Errorf("default dictionary: %q, want %q in it", def, split)
		}
	}
	withDict := segmentWords(t, newTestSegment(t, func(o *SegmentOptions) {
		o.UserDicts = []string{filepath.Join("testdata", "segment", "user.dict")}
	}), text)[0]
	for _, term := range []string{"非法吸收公众存款", "冠状动脉粥样硬化", "集资诈骗罪"} {
		if !slices.Contains(withDict, term) {
			t.Errorf("with user.dict: %q, want %q whole", withDict, term)
		}
	}
	// The default instance is unchanged by the user dictionary's.
	if again := segmentWords(t, newTestSegment(t, nil), text)[0]; !slices.Equal(again, def) {
		t.Errorf("default instance changed after loading a user dictionary: %q", again)
	}
}

func TestSegmentUserDictFormat(t *testing.T) {
	var out strings.Builder
	in := "\ufeff非法吸收公众存款\r\n冠状动脉粥样硬化 n\n\n  集资诈骗罪\t5 \n区块链 10 nz\n零频 0\n"
	if line, err := appendUserDict(&out, []byte(in)); err != nil {
		t.Fatalf("line %d: %v", line, err)
	}
	want := "非法吸收公众存款\n冠状动脉粥样硬化 n\n集资诈骗罪 5 x\n区块链 10 nz\n零频 0 x\n"
	if out.String() != want {
		t.Errorf("normalised user dict:\n%q\nwant\n%q", out.String(), want)
	}
}

// TestSegmentGolden compares the stage's words on the test passages with
// the reviewed golden files.
func TestSegmentGolden(t *testing.T) {
	st := newTestSegment(t, nil)
	for _, name := range []string{"kongyiji", "mixed"} {
		text, err := os.ReadFile(filepath.Join("testdata", "segment", name+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(segmentWords(t, st, string(text))[0], "\n") + "\n"
		golden := filepath.Join("testdata", "segment", name+".words")
		if *segUpdate {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update-segment to create it)", err)
		}
		if got != string(want) {
			gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
			for i := 0; i < len(gl) && i < len(wl); i++ {
				if gl[i] != wl[i] {
					t.Errorf("%s: word %d is %q, golden %q (and %d vs %d words)", name, i, gl[i], wl[i], len(gl)-1, len(wl)-1)
					break
				}
			}
			if len(gl) != len(wl) {
				t.Errorf("%s: %d words, golden %d", name, len(gl)-1, len(wl)-1)
			}
		}
	}
}
