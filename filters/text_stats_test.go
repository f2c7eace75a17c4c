package filters

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/pipeline"
)

// tsFill returns n characters of English text.
func tsFill(n int) string {
	const s = "pack my box with five dozen liquor jugs while the quick brown fox jumps over a lazy dog near the old river bank and sings about winter evenings in small towns"
	return s[:n]
}

// tsURL returns a URL of exactly n characters (n ≥ 20).
func tsURL(n int) string {
	u := "https://example.com/"
	return u + strings.Repeat("p", n-len(u))
}

// tsSpecial returns a Chinese text of 100 characters of which k are
// special (，。、 and the ideographic space): the rest are Han.
func tsSpecial(k int) string {
	punct := []rune("，。、\u3000")
	var b strings.Builder
	for i := range 100 - k {
		b.WriteRune(zhPool[i])
	}
	for i := range k {
		b.WriteRune(punct[i%len(punct)])
	}
	return b.String()
}

// tsSpecialEn returns an English text of 100 characters of which k are
// special (spaces, . , ; and digits count; letters do not).
func tsSpecialEn(k int) string {
	letters := zhLetters(100)
	letters = strings.ReplaceAll(letters, " ", "")
	const sp = " .,;7"
	var b strings.Builder
	b.WriteString(letters[:100-k])
	for i := range k {
		b.WriteByte(sp[i%len(sp)])
	}
	return b.String()
}

func TestTextStatsRules(t *testing.T) {
	f := TextStats
	defaults := zhDefaults(t, f)
	noSpecial := Thresholds{"default": {"min_alnum_frac": zhPtr(0.25)}}
	with := func(keys map[string]float64) Thresholds { return zhWith(t, f, "default", keys) }
	han20001 := string([]rune(strings.Repeat(string(zhPool), 20001/len(zhPool)+1))[:20001])
	for _, c := range []struct {
		name, lang, text string
		words            []string // Doc.Words (nil: none)
		th               Thresholds
		want             string
	}{
		{"Chinese prose passes", "zh", zhLines(10), nil, nil, ""},
		{"English prose passes", "en", "The quick brown fox jumps over the lazy dog. It was not amused, and said so twice.", nil, nil, ""},
		{"empty text: shares NaN, counts 0, no default fails", "zh", "", nil, nil, ""},

		// min_alnum_frac 0.25 (max_special_char_frac off: the two are complements).
		{"alnum 25/100 is at the threshold", "en", zhLetters(25) + strings.Repeat(".", 100-len(zhLetters(25))), nil, noSpecial, ""},
		{"alnum 24/100 is below", "en", zhLetters(24) + strings.Repeat(".", 100-len(zhLetters(24))), nil, noSpecial, "text_stats.alnum_frac<0.25"},
		{"alnum: Han characters are letters", "zh", zhHan(0, 25) + strings.Repeat("。", 75), nil, noSpecial, ""},
		{"alnum: Han 24/100 is below", "zh", zhHan(0, 24) + strings.Repeat("。", 76), nil, noSpecial, "text_stats.alnum_frac<0.25"},
		{"alnum: with all defaults it is the reason (checked before special)", "zh", zhHan(0, 24) + strings.Repeat("。", 76), nil, nil, "text_stats.alnum_frac<0.25"},

		// max_special_char_frac 0.6.
		{"special 60/100 (Chinese) is at the threshold", "zh", tsSpecial(60), nil, nil, ""},
		{"special 61/100 (Chinese) is above", "zh", tsSpecial(61), nil, nil, "text_stats.special_char_frac>0.6"},
		{"special 60/100 (English) is at the threshold", "en", tsSpecialEn(60), nil, nil, ""},
		{"special 61/100 (English) is above", "en", tsSpecialEn(61), nil, nil, "text_stats.special_char_frac>0.6"},
		{"special: 一 上 士 and katakana are not special", "zh", strings.Repeat("一上士ーンッツシ", 10), nil, with(map[string]float64{"min_special_char_frac": 0.01}), "text_stats.special_char_frac<0.01"},

		// max_url_frac 0.3.
		{"url 30/100 is at the threshold", "en", tsURL(30) + " " + tsFill(69), nil, nil, ""},
		{"url 31/100 is above", "en", tsURL(31) + " " + tsFill(68), nil, nil, "text_stats.url_frac>0.3"},
		{"url: a URL ends at Chinese text and trailing punctuation", "zh", "详见" + tsURL(30) + "。" + zhHan(0, 67), nil, nil, ""},
		{"url: www. without a scheme counts", "zh", "详见www." + strings.Repeat("a", 27) + "，" + zhHan(0, 67), nil, nil, "text_stats.url_frac>0.3"},

		// max_longest_word 500.
		{"a 500-letter word is at the threshold", "en", "see " + strings.Repeat("a", 500) + " here", nil, nil, ""},
		{"a 501-letter word is above", "en", "see " + strings.Repeat("a", 501) + " here", nil, nil, "text_stats.longest_word>500"},
		{"zalgo: combining marks stay in the word", "en", "he comes " + "h" + strings.Repeat("\u0301\u0316", 300) + " now", nil, Thresholds{"default": {"max_longest_word": zhPtr(500)}}, "text_stats.longest_word>500"},
		{"Han characters are words of one", "zh", han20001[:600*3], nil, nil, ""},
		{"segment words replace the text's", "zh", "see " + strings.Repeat("a", 501), []string{"see", "aaa"}, nil, ""},
		{"a 501-character segment word is above", "zh", zhLines(3), []string{strings.Repeat("中", 501)}, nil, "text_stats.longest_word>500"},

		// max_longest_line 20000.
		{"a 20000-character line is at the threshold", "zh", han20001[:20000*3] + "\n" + zhLines(2), nil, nil, ""},
		{"a 20001-character line is above", "zh", zhLines(2) + "\n" + han20001, nil, nil, "text_stats.longest_line>20000"},
		{"\\r\\n is not part of the line", "zh", han20001[:20000*3] + "\r\n", nil, nil, ""},

		// Rules off by default, switched on in a config.
		{"min_chars 10: 10 passes", "zh", zhHan(0, 10), nil, with(map[string]float64{"min_chars": 10}), ""},
		{"min_chars 10: 9 fails", "zh", zhHan(0, 9), nil, with(map[string]float64{"min_chars": 10}), "text_stats.chars<10"},
		{"max_chars 10: 10 passes", "zh", zhHan(0, 10), nil, with(map[string]float64{"max_chars": 10}), ""},
		{"max_chars 10: 11 fails", "en", "abcdefghijk", nil, with(map[string]float64{"max_chars": 10}), "text_stats.chars>10"},
		{"min_words 5: 5 Han words pass", "zh", zhHan(0, 5), nil, with(map[string]float64{"min_words": 5}), ""},
		{"min_words 5: 4 English words fail", "en", "one two three four", nil, with(map[string]float64{"min_words": 5}), "text_stats.words<5"},
		{"min_words 5: segment words count", "zh", zhHan(0, 10), []string{"一二", "三四"}, with(map[string]float64{"min_words": 5}), "text_stats.words<5"},
		{"max_words 3: 3 pass", "en", "one two three", nil, with(map[string]float64{"max_words": 3}), ""},
		{"max_words 3: 4 fail", "en", "one two three four", nil, with(map[string]float64{"max_words": 3}), "text_stats.words>3"},
		{"max_words 3: 4 Han characters fail", "zh", zhHan(0, 4), nil, with(map[string]float64{"max_words": 3}), "text_stats.words>3"},
		{"min_lines 2: 2 pass", "zh", zhLines(2), nil, with(map[string]float64{"min_lines": 2}), ""},
		{"min_lines 2: blank lines do not count", "zh", zhSentences[0] + "\n \n\u3000", nil, with(map[string]float64{"min_lines": 2}), "text_stats.lines<2"},
		{"max_lines 2: 2 pass", "en", "The first line.\nThe second line.\n", nil, with(map[string]float64{"max_lines": 2}), ""},
		{"max_lines 2: 3 fail", "zh", zhLines(3), nil, with(map[string]float64{"max_lines": 2}), "text_stats.lines>2"},
		{"max_alnum_frac 0.9: 90/100 passes", "zh", zhHan(0, 90) + strings.Repeat("。", 10), nil, with(map[string]float64{"max_alnum_frac": 0.9}), ""},
		{"max_alnum_frac 0.9: 91/100 fails", "en", strings.Repeat("a", 91) + strings.Repeat(".", 9), nil, with(map[string]float64{"max_alnum_frac": 0.9}), "text_stats.alnum_frac>0.9"},
		{"min_special_char_frac 0.1: 10/100 passes", "zh", tsSpecial(10), nil, with(map[string]float64{"min_special_char_frac": 0.1}), ""},
		{"min_special_char_frac 0.1: 9/100 fails", "zh", tsSpecial(9), nil, with(map[string]float64{"min_special_char_frac": 0.1}), "text_stats.special_char_frac<0.1"},
		{"min_url_frac 0.2: 20/100 passes", "en", tsURL(20) + " " + tsFill(79), nil, with(map[string]float64{"min_url_frac": 0.2}), ""},
		{"min_url_frac 0.2: no URL fails", "zh", zhLines(2), nil, with(map[string]float64{"min_url_frac": 0.2}), "text_stats.url_frac<0.2"},
		{"max_symbol_frac 0.05: 5/100 passes", "zh", zhHan(0, 95) + "★￥©+😀", nil, with(map[string]float64{"max_symbol_frac": 0.05}), ""},
		{"max_symbol_frac 0.05: 6/100 fails", "zh", zhHan(0, 94) + "★￥©+😀=", nil, with(map[string]float64{"max_symbol_frac": 0.05}), "text_stats.symbol_frac>0.05"},
		{"min_symbol_frac 0.01: 1/100 passes", "zh", zhHan(0, 99) + "★", nil, with(map[string]float64{"min_symbol_frac": 0.01}), ""},
		{"min_symbol_frac 0.01: none fails", "en", zhLetters(50), nil, with(map[string]float64{"min_symbol_frac": 0.01}), "text_stats.symbol_frac<0.01"},
		{"min_longest_word 4: Han-only text has words of one", "zh", zhLines(3), nil, with(map[string]float64{"min_longest_word": 4}), "text_stats.longest_word<4"},
		{"min_longest_word 4: an English word of 4 passes", "en", "a bb ccc dddd", nil, with(map[string]float64{"min_longest_word": 4}), ""},
		{"min_longest_line 30: 30 passes", "en", tsFill(30), nil, with(map[string]float64{"min_longest_line": 30}), ""},
		{"min_longest_line 30: 27 fails", "zh", zhSentences[0], nil, with(map[string]float64{"min_longest_line": 30}), "text_stats.longest_line<30"},
		{"null switches a default off", "en", "see " + strings.Repeat("a", 501), nil, Thresholds{"default": {"max_longest_word": nil}}, ""},
		{"a language section overrides default", "zh", "see " + strings.Repeat("a", 501), nil, Thresholds{"zh": {"max_longest_word": zhPtr(1000)}, "default": {"max_longest_word": zhPtr(500)}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			th := c.th
			if th == nil {
				th = defaults
			}
			vals := make([]float64, len(f.Signals))
			for i := range vals {
				vals[i] = math.NaN()
			}
			f.NewComputer().Compute(&Doc{Text: c.text, Lang: c.lang, Words: c.words}, vals)
			if got := f.Decide(th, c.lang, vals); got != c.want {
				t.Errorf("Decide = %q, want %q\nsignals %v", got, c.want, zhSignalMap(f, vals))
			}
		})
	}
}

// TestTextStatsSignals checks exact values, words and URLs in particular.
func TestTextStatsSignals(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name, text string
		want       map[string]float64
	}{
		{"empty", "", map[string]float64{"chars": 0, "words": 0, "lines": 0, "alnum_frac": nan, "special_char_frac": nan, "url_frac": nan, "symbol_frac": nan, "longest_word": 0, "longest_line": 0}},
		{"Han and kana are one-character words", "中文abc 日本語のテキスト", map[string]float64{"chars": 14, "words": 11, "longest_word": 3, "alnum_frac": 13.0 / 14, "special_char_frac": 1.0 / 14}},
		{"apostrophes and decimals stay inside words", "don't pay 3.14 or 1,000.", map[string]float64{"words": 5, "longest_word": 5}},
		{"a lone mid character ends the word", "end. next, 'quoted'", map[string]float64{"words": 3, "longest_word": 6}},
		{"underscores join, hyphens split", "snake_case well-known", map[string]float64{"words": 3, "longest_word": 10}},
		{"Hangul words are runs", "한국어 문장", map[string]float64{"words": 2, "longest_word": 3}},
		{"lines", "ab\r\ncde\n\n \nf", map[string]float64{"lines": 3, "longest_line": 3, "chars": 12}},
		{"digits are alphanumeric and special", "12ab", map[string]float64{"alnum_frac": 1, "special_char_frac": 0.5}},
		{"symbols", "a+b=c ★", map[string]float64{"symbol_frac": 3.0 / 7, "special_char_frac": 4.0 / 7}},
		{"URLs", "see https://example.com/a?b=1, then www.test.org.", map[string]float64{"url_frac": 37.0 / 49}},
		{"URL inside Chinese", "详见http://a.cn/x网站", map[string]float64{"url_frac": 13.0 / 17}},
		{"no URL without a scheme letter or a host", "a :// b 1://x C:/dir", map[string]float64{"url_frac": 0}},
		{"a www inside a word is not a URL", "awww.example", map[string]float64{"url_frac": 0}},
		{"URLs side by side", "a://b a://b", map[string]float64{"url_frac": 10.0 / 11}},
		{"many schemes without a host", strings.Repeat("x:// ", 2000) + "www.a.cn", map[string]float64{"url_frac": 8.0 / 10008}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := zhSignalMap(TextStats, zhSignals(TextStats, TextStats.NewComputer(), c.text, "zh"))
			for k, w := range c.want {
				g := got[k]
				if math.IsNaN(w) != math.IsNaN(g) || !math.IsNaN(w) && math.Abs(g-w) > 1e-12 {
					t.Errorf("%s = %v, want %v", k, g, w)
				}
			}
		})
	}
}

func TestTextStatsZeroAlloc(t *testing.T) {
	c := TextStats.NewComputer()
	out := make([]float64, len(TextStats.Signals))
	d := &Doc{Text: strings.Repeat(zhLines(10)+" https://example.com/x\n", 20), Lang: "zh"}
	if n := testing.AllocsPerRun(20, func() { c.Compute(d, out) }); n != 0 {
		t.Errorf("Compute allocates %v times per document", n)
	}
}

func TestTextStatsStage(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	texts := []string{zhLines(10), "see " + strings.Repeat("a", 501), ""}
	var docs []pipeline.Doc
	for _, s := range texts {
		docs = append(docs, pipeline.Doc{Text: s})
	}
	b := pipeline.NewBatch(mem, 0, docs, []string{"s", "s", "s"}, false)
	defer b.Release()
	b.Tokens = [][]string{{"今天", "天气"}, nil, nil}
	info := TextStats.NewStageInfo()
	st, err := info.New(info.Defaults(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", "text_stats.longest_word>500", ""} {
		if got := b.DropOf(i).Reason; got != want {
			t.Errorf("row %d: drop %q, want %q", i, got, want)
		}
	}
	words := b.Column("text_stats_words").(*array.Float64)
	if words.Value(0) != 2 || words.Value(1) != 2 || words.Value(2) != 0 {
		t.Errorf("text_stats_words = %v, want [2 2 0] (segment words for row 0)", words)
	}
	if b.Column("text_stats_alnum_frac").IsValid(2) {
		t.Error("alnum_frac of an empty text is not null")
	}
}

func TestTextStatsRealDrops(t *testing.T) {
	zhCheckRealDrops(t, TextStats, []zhRealDrop{
		// Off by default (the length stage's business): a 16-character Q&A record.
		{"min_chars", 20, false, "medicalgpt", "medicalgpt-184", "text_stats.chars<20"},
		{"max_chars", 100000, false, "text-junk", "zh-gne-njxfhn-1", "text_stats.chars>100000"},
		{"min_words", 15, false, "medicalgpt", "medicalgpt-184", "text_stats.words<15"},
		{"max_words", 100000, false, "text-junk", "zh-gne-njxfhn-1", "text_stats.words>100000"},
		// A one-line ground truth (108 characters).
		{"min_lines", 2, false, "text-clean", "zh-mh-6558a82cd7af", "text_stats.lines<2"},
		{"max_lines", 1000, false, "text-junk", "zh-gne-list-163-2", "text_stats.lines>1000"},
		// No real document is below the default 0.25; a table of numbers is below 0.3.
		{"min_alnum_frac", 0.3, false, "dpo", "dpo-124-rejected", "text_stats.alnum_frac<0.3"},
		{"max_alnum_frac", 0.95, false, "medicalgpt", "medicalgpt-671", "text_stats.alnum_frac>0.95"},
		{"min_special_char_frac", 0.05, false, "medicalgpt", "medicalgpt-400", "text_stats.special_char_frac<0.05"},
		// A JSON list answer: 92 % digits, brackets, commas and spaces.
		{"max_special_char_frac", 0.6, true, "dpo", "dpo-24-rejected", "text_stats.special_char_frac>0.6"},
		{"min_url_frac", 0.001, false, "zh-prose", "呐喊/狂人日记.txt", "text_stats.url_frac<0.001"},
		// A page of links (66 % of its characters in URLs).
		{"max_url_frac", 0.3, true, "text-junk", "zh-gne-shanxi-1", "text_stats.url_frac>0.3"},
		{"max_url_frac", 0.3, true, "sharegpt", "sharegpt-295", "text_stats.url_frac>0.3"},
		{"min_symbol_frac", 0.0001, false, "zh-prose", "三闲集/扁.txt", "text_stats.symbol_frac<0.0001"},
		{"max_symbol_frac", 0.05, false, "text-junk", "zh-mh-3e863fa9ac34", "text_stats.symbol_frac>0.05"},
		{"min_longest_word", 2, false, "zh-prose", "三闲集/扁.txt", "text_stats.longest_word<2"},
		// The forum page's zalgo text, inside its ground truth too.
		{"max_longest_word", 500, true, "text-clean", "en-mhf-f297ca438db7", "text_stats.longest_word>500"},
		{"max_longest_word", 500, true, "text-junk", "en-mhf-f297ca438db7", "text_stats.longest_word>500"},
		{"min_longest_line", 20, false, "medicalgpt", "medicalgpt-184", "text_stats.longest_line<20"},
		// One 174 217-character line of SEO keywords.
		{"max_longest_line", 20000, true, "text-junk", "zh-gne-njxfhn-1", "text_stats.longest_line>20000"},
	})
}

func TestTextStatsGolden(t *testing.T) { zhCheckGolden(t, TextStats, "text_stats") }

// BenchmarkTextStats: text_stats alone over the 551 zh-laws files.
func BenchmarkTextStats(b *testing.B) { zhBenchFamily(b, TextStats) }
