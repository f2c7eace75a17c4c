package filters

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// ---- gopher_quality ----

func gqEn(parts ...[]string) string { return strings.Join(tuCat(parts...), " ") + "." }
func gqZh(parts ...[]string) string { return strings.Join(tuCat(parts...), "") + "。" }

// gqLines makes n lines of ten words (the and + eight fillers); the first
// k start with prefix, the others with nothing; every line ends with end
// for its first m lines and with "." or "。" after that.
func gqLines(zh bool, n, k int, prefix string, m int, end string) string {
	var lines []string
	for i := range n {
		var words []string
		if zh {
			words = tuCat([]string{"的", "是"}, tuZhChars(8*i, 8))
		} else {
			words = tuCat([]string{"the", "and"}, tuEnWords(8*i, 8))
		}
		sep := " "
		stop := "."
		if zh {
			sep, stop = "", "。"
		}
		line := strings.Join(words, sep)
		if i < k {
			line = prefix + line
		}
		if i < m {
			line += end
		} else {
			line += stop
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// gqMarked makes "the and" (or 的是), k fillers each preceded by mark as a
// token of its own, then rest plain fillers and a full stop.
func gqMarked(zh bool, mark string, k, rest int) string {
	if zh {
		var b strings.Builder
		b.WriteString("的是")
		for _, c := range tuZhChars(0, k) {
			b.WriteString(mark + c)
		}
		return gqZh([]string{b.String()}, tuZhChars(k, rest))
	}
	var words []string
	for _, w := range tuEnWords(0, k) {
		words = append(words, mark+" "+w)
	}
	return gqEn([]string{"the", "and"}, words, tuEnWords(k, rest))
}

// gqLongWords returns a Chinese text and its words: 的 是, n5 words of five
// characters and n6 of six, and a full stop.
func gqLongWords(n5, n6 int) (string, []string) {
	words := []string{"的", "是"}
	next := 0
	for i := range n5 + n6 {
		n := 5
		if i >= n5 {
			n = 6
		}
		words = append(words, strings.Join(tuZhChars(next, n), ""))
		next += n
	}
	return strings.Join(words, "") + "。", words
}

func TestGopherQualityRules(t *testing.T) {
	const f = "gopher_quality."
	stop := []string{"the", "and"}
	stopZh := []string{"的", "是"}
	w10, w11 := "abcdefghij", "abcdefghijk"
	long5in, long5inWords := gqLongWords(40, 8)
	long5out, long5outWords := gqLongWords(39, 9)
	nums := func(n int) []string { return tuRepeat("2024", n) }
	commas := func(n int) string { return strings.Repeat("，", n) }
	cases := []tuRuleCase{
		// min_words (non-symbol words) 50.
		{name: "en 50 words", lang: "en", text: gqEn(stop, tuEnWords(0, 48)), rule: "min_words", near: 1},
		{name: "en 49 words", lang: "en", text: gqEn(stop, tuEnWords(0, 47)), rule: "min_words", reason: f + "words<50", near: 1},
		{name: "zh 50 characters", lang: "zh", text: gqZh(stopZh, tuZhChars(0, 48)), rule: "min_words", near: 1},
		{name: "zh 49 characters", lang: "zh", text: gqZh(stopZh, tuZhChars(0, 47)), rule: "min_words", reason: f + "words<50", near: 1},
		// max_words 100 000.
		{name: "en 100000 words", lang: "en", text: gqEn(stop, tuRepeat("word", 99998)), rule: "max_words", near: 1},
		{name: "en 100001 words", lang: "en", text: gqEn(stop, tuRepeat("word", 99999)), rule: "max_words", reason: f + "words>100000", near: 1},
		{name: "zh 100000 characters", lang: "zh", text: gqZh(stopZh, tuRepeat("天", 99998)), rule: "max_words", near: 1},
		{name: "zh 100001 characters", lang: "zh", text: gqZh(stopZh, tuRepeat("天", 99999)), rule: "max_words", reason: f + "words>100000", near: 1},
		// min_mean_word_length: en 3, zh 1 (FineWeb-2 cmn).
		{name: "en mean length 3", lang: "en", text: gqEn(stop, tuRepeat("cat", 48)), rule: "min_mean_word_length", near: 0.001},
		{name: "en mean length 2.98", lang: "en", text: gqEn(stop, tuRepeat("cat", 47), []string{"at"}), rule: "min_mean_word_length", reason: f + "mean_word_length<3", near: 0.03},
		{name: "zh mean length 1", lang: "zh", text: gqZh(stopZh, tuZhChars(0, 48)), rule: "min_mean_word_length", near: 0.001},
		// max_mean_word_length: en 10; zh 5, on jieba-like words.
		{name: "en mean length 10", lang: "en", text: gqEn(stop, tuRepeat(w10, 34), tuRepeat(w11, 14)), rule: "max_mean_word_length", near: 0.001},
		{name: "en mean length 10.02", lang: "en", text: gqEn(stop, tuRepeat(w10, 33), tuRepeat(w11, 15)), rule: "max_mean_word_length", reason: f + "mean_word_length>10", near: 0.03},
		{name: "zh mean length 5", lang: "zh", text: long5in, words: long5inWords, rule: "max_mean_word_length", near: 0.001},
		{name: "zh mean length 5.02", lang: "zh", text: long5out, words: long5outWords, rule: "max_mean_word_length", reason: f + "mean_word_length>5", near: 0.03},
		// max_hash_word_ratio 0.1: # per token (the # are tokens too).
		{name: "en 10 # in 100 tokens", lang: "en", text: gqMarked(false, "#", 10, 77), rule: "max_hash_word_ratio", near: 0.001},
		{name: "en 11 # in 102 tokens", lang: "en", text: gqMarked(false, "#", 11, 77), rule: "max_hash_word_ratio", reason: f + "hash_word_ratio>0.1", near: 0.01},
		{name: "zh 10 # in 100 tokens", lang: "zh", text: gqMarked(true, "#", 10, 77), rule: "max_hash_word_ratio", near: 0.001},
		{name: "zh 11 # in 102 tokens", lang: "zh", text: gqMarked(true, "#", 11, 77), rule: "max_hash_word_ratio", reason: f + "hash_word_ratio>0.1", near: 0.01},
		// max_ellipsis_word_ratio 0.1: … and ... per token.
		{name: "en 10 ... in 100 tokens", lang: "en", text: gqMarked(false, "...", 10, 77), rule: "max_ellipsis_word_ratio", near: 0.001},
		{name: "en 11 … in 102 tokens", lang: "en", text: gqMarked(false, "…", 11, 77), rule: "max_ellipsis_word_ratio", reason: f + "ellipsis_word_ratio>0.1", near: 0.01},
		{name: "zh 10 … in 100 tokens", lang: "zh", text: gqMarked(true, "…", 10, 77), rule: "max_ellipsis_word_ratio", near: 0.001},
		{name: "zh 11 … in 102 tokens", lang: "zh", text: gqMarked(true, "…", 11, 77), rule: "max_ellipsis_word_ratio", reason: f + "ellipsis_word_ratio>0.1", near: 0.01},
		// max_bullet_lines_frac 0.9.
		{name: "en 90 of 100 lines bulleted", lang: "en", text: gqLines(false, 100, 90, "- ", 0, ""), rule: "max_bullet_lines_frac", near: 0.001},
		{name: "en 91 of 100 lines bulleted", lang: "en", text: gqLines(false, 100, 91, "  • ", 0, ""), rule: "max_bullet_lines_frac", reason: f + "bullet_lines_frac>0.9", near: 0.011},
		{name: "zh 90 of 100 lines bulleted", lang: "zh", text: gqLines(true, 100, 90, "• ", 0, ""), rule: "max_bullet_lines_frac", near: 0.001},
		{name: "zh 91 of 100 lines bulleted", lang: "zh", text: gqLines(true, 100, 91, "\u3000-", 0, ""), rule: "max_bullet_lines_frac", reason: f + "bullet_lines_frac>0.9", near: 0.011},
		// max_ellipsis_lines_frac 0.3.
		{name: "en 30 of 100 lines end in ...", lang: "en", text: gqLines(false, 100, 0, "", 30, "..."), rule: "max_ellipsis_lines_frac", near: 0.001},
		{name: "en 31 of 100 lines end in …", lang: "en", text: gqLines(false, 100, 0, "", 31, " … "), rule: "max_ellipsis_lines_frac", reason: f + "ellipsis_lines_frac>0.3", near: 0.011},
		{name: "zh 30 of 100 lines end in ……", lang: "zh", text: gqLines(true, 100, 0, "", 30, "……"), rule: "max_ellipsis_lines_frac", near: 0.001},
		{name: "zh 31 of 100 lines end in ……", lang: "zh", text: gqLines(true, 100, 0, "", 31, "……\u3000"), rule: "max_ellipsis_lines_frac", reason: f + "ellipsis_lines_frac>0.3", near: 0.011},
		// min_alpha_words_frac: en 0.8; zh 0.67 (measured, FineWeb-2 says 0.735).
		{name: "en 80 alphabetic of 100 tokens", lang: "en", text: gqEn(stop, tuEnWords(0, 78), nums(19)), rule: "min_alpha_words_frac", near: 0.001},
		{name: "en 79 alphabetic of 100 tokens", lang: "en", text: gqEn(stop, tuEnWords(0, 77), nums(20)), rule: "min_alpha_words_frac", reason: f + "alpha_words_frac<0.8", near: 0.011},
		{name: "zh 67 Han of 100 tokens", lang: "zh", text: gqZh(stopZh, tuZhChars(0, 65), []string{commas(32)}), rule: "min_alpha_words_frac", near: 0.001},
		{name: "zh 66 Han of 100 tokens", lang: "zh", text: gqZh(stopZh, tuZhChars(0, 64), []string{commas(33)}), rule: "min_alpha_words_frac", reason: f + "alpha_words_frac<0.67", near: 0.011},
		// min_stop_words 2, distinct, case-sensitive; the list is per language.
		{name: "en the and", lang: "en", text: gqEn(stop, tuEnWords(0, 48)), rule: "min_stop_words", near: 0.001},
		{name: "en the the", lang: "en", text: gqEn([]string{"the", "the"}, tuEnWords(0, 48)), rule: "min_stop_words", reason: f + "stop_words<2", near: 1},
		{name: "en The And", lang: "en", text: gqEn([]string{"The", "And"}, tuEnWords(0, 48)), rule: "min_stop_words", reason: f + "stop_words<2", near: 2},
		{name: "zh 的 是", lang: "zh", text: gqZh(stopZh, tuZhChars(0, 48)), rule: "min_stop_words", near: 0.001},
		{name: "zh 的 的", lang: "zh", text: gqZh([]string{"的", "的"}, tuZhChars(0, 48)), rule: "min_stop_words", reason: f + "stop_words<2", near: 1},
		{name: "zh English stop words do not count", lang: "zh", text: gqZh([]string{"the and "}, tuZhChars(0, 48)), rule: "min_stop_words", reason: f + "stop_words<2", near: 2},
	}
	tuCheckRuleCases(t, GopherQuality, cases, map[string]string{
		"min_mean_word_length/zh/out": "a word has at least one character, so the mean over words is never below zh's minimum of 1",
	})
}

func TestGopherQualitySignals(t *testing.T) {
	c := GopherQuality.NewComputer()
	v := tuSignals(GopherQuality, c, &Doc{Text: "The cat sat with the dog, and ate.\n• a ## list…\n- last line...", Lang: "en"})
	// Tokens: The cat sat with the dog , and ate . • a # # list … - last line ... = 20;
	// non-symbol: The cat sat with the dog and ate • a list last line = 13
	// (• is not in datatrove's PUNCTUATION_SET), 39 characters;
	// alphabetic: 12; stop words: the with and ("The" does not count).
	want := map[string]float64{
		"words": 13, "mean_word_length": 39.0 / 13, "hash_word_ratio": 2.0 / 20, "ellipsis_word_ratio": 2.0 / 20,
		"bullet_lines_frac": 2.0 / 3, "ellipsis_lines_frac": 2.0 / 3, "alpha_words_frac": 12.0 / 20, "stop_words": 3,
	}
	for name, w := range want {
		if got := tuSignal(GopherQuality, v, name); math.Abs(got-w) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	v = tuSignals(GopherQuality, c, &Doc{Text: ""})
	for _, name := range []string{"mean_word_length", "hash_word_ratio", "bullet_lines_frac", "alpha_words_frac"} {
		if x := tuSignal(GopherQuality, v, name); !math.IsNaN(x) {
			t.Errorf("empty text: %s = %v, want NaN", name, x)
		}
	}
	if x := tuSignal(GopherQuality, v, "words"); x != 0 {
		t.Errorf("empty text: words = %v", x)
	}
}

// ---- gopher_repetition ----

// grDoc builds documents of distinct filler tokens (four-letter words with
// spaces for English, Han characters without for Chinese) and phrases.
type grDoc struct {
	zh          bool
	b           strings.Builder
	next        int
	atLineStart bool
}

func newGrDoc(zh bool) *grDoc { return &grDoc{zh: zh, atLineStart: true} }

func (d *grDoc) tok(s string) {
	if !d.zh && !d.atLineStart {
		d.b.WriteByte(' ')
	}
	d.b.WriteString(s)
	d.atLineStart = false
}

func (d *grDoc) fill(n int) {
	for range n {
		if d.zh {
			d.tok(tuZhChar(d.next))
		} else {
			d.tok(tuEnWord(d.next))
		}
		d.next++
	}
}

// phrase writes the i-th phrase of n tokens (its own distinct tokens).
func (d *grDoc) phrase(i, n int) {
	for k := range n {
		if d.zh {
			d.tok(tuZhChar(5000 + 10*i + k))
		} else {
			d.tok(tuEnWord(5000 + 10*i + k))
		}
	}
}

func (d *grDoc) word(s string) { d.tok(s) }

func (d *grDoc) nl(k int) {
	d.b.WriteString(strings.Repeat("\n", k))
	d.atLineStart = true
}

func (d *grDoc) String() string { return d.b.String() }

// grParas: the two-line paragraph X, then dups × (a three-line unique
// paragraph, X), then pad unique paragraphs.
func grParas(zh bool, dups, pad int) string {
	d := newGrDoc(zh)
	x := func() { d.phrase(0, 1); d.nl(1); d.phrase(1, 1) }
	u := func() {
		for l := range 3 {
			if l > 0 {
				d.nl(1)
			}
			d.fill(4)
		}
	}
	x()
	for range dups {
		d.nl(2)
		u()
		d.nl(2)
		x()
	}
	for range pad {
		d.nl(2)
		u()
	}
	return d.String()
}

// grLines: the one-token line X, then dups × (a unique four-token line, X),
// then pad unique lines.
func grLines(zh bool, dups, pad int) string {
	d := newGrDoc(zh)
	d.phrase(0, 1)
	for range dups {
		d.nl(1)
		d.fill(4)
		d.nl(1)
		d.phrase(0, 1)
	}
	for range pad {
		d.nl(1)
		d.fill(4)
	}
	return d.String()
}

// grLongDup: a duplicated block X (one line or paragraph) of size m — one
// word of m letters in English, m distinct Han characters in Chinese —
// among ten unique lines or paragraphs of eight tokens: unique, X,
// 9 × unique, X. (The first block is short so that the top n-grams,
// which are the first n-grams when nothing repeats, stay short.)
func grLongDup(zh bool, sep, m int) string {
	d := newGrDoc(zh)
	x := func() {
		if zh {
			for k := range m {
				d.tok(tuZhChar(9000 + k))
			}
		} else {
			d.word(strings.Repeat("x", m))
		}
	}
	d.fill(8)
	d.nl(sep)
	x()
	for range 9 {
		d.nl(sep)
		d.fill(8)
	}
	d.nl(sep)
	x()
	return d.String()
}

// grTopN: count × (the phrase of n tokens, 3 unique tokens), then pad
// unique tokens, one line.
func grTopN(zh bool, n, count, pad int) string {
	d := newGrDoc(zh)
	for range count {
		d.phrase(0, n)
		d.fill(3)
	}
	d.fill(pad)
	return d.String()
}

// grDupN: k distinct phrases of n tokens, each twice (P1 u P2 u … Pk u P1 u
// … Pk u, u = 2 unique tokens), then pad unique tokens.
func grDupN(zh bool, n, k, pad int) string {
	d := newGrDoc(zh)
	for range 2 {
		for i := range k {
			d.phrase(i, n)
			d.fill(2)
		}
	}
	d.fill(pad)
	return d.String()
}

// grGen is a family of hand-made documents for one rule: build(p) for a
// parameter p; in and out are the parameters just inside and just outside
// the threshold.
type grGen struct {
	rule, lang string
	build      func(int) string
	in, out    int
	reason     string
	near       float64
}

func grGens() []grGen {
	const f = "gopher_repetition."
	var gens []grGen
	for _, lang := range []string{"en", "zh"} {
		zh := lang == "zh"
		th := map[bool]map[string]string{
			false: {"max_dup_line_frac": "0.3", "max_top_2_gram_char_frac": "0.2", "max_top_3_gram_char_frac": "0.18", "max_top_4_gram_char_frac": "0.16",
				"max_dup_5_gram_char_frac": "0.15", "max_dup_6_gram_char_frac": "0.14", "max_dup_7_gram_char_frac": "0.13", "max_dup_8_gram_char_frac": "0.12", "max_dup_9_gram_char_frac": "0.11", "max_dup_10_gram_char_frac": "0.1"},
			true: {"max_dup_line_frac": "0.287", "max_top_2_gram_char_frac": "0.256", "max_top_3_gram_char_frac": "0.201", "max_top_4_gram_char_frac": "0.171",
				"max_dup_5_gram_char_frac": "0.35", "max_dup_6_gram_char_frac": "0.32", "max_dup_7_gram_char_frac": "0.29", "max_dup_8_gram_char_frac": "0.27", "max_dup_9_gram_char_frac": "0.245", "max_dup_10_gram_char_frac": "0.22"},
		}[zh]
		add := func(rule string, build func(int) string, in, out int, near float64) {
			thr, ok := th[rule]
			if !ok {
				thr = map[string]string{"max_dup_para_frac": "0.3", "max_dup_para_char_frac": "0.2", "max_dup_line_char_frac": "0.2"}[rule]
			}
			gens = append(gens, grGen{rule, lang, build, in, out, f + strings.TrimPrefix(rule, "max_") + ">" + thr, near})
		}
		pick := func(en, zhv [2]int) [2]int {
			if zh {
				return zhv
			}
			return en
		}
		// dup_para_frac 0.3: 10 duplicates in 34 paragraphs (0.294) or 33 (0.303).
		add("max_dup_para_frac", func(p int) string { return grParas(zh, 10, p) }, 13, 12, 0.01)
		// dup_para_char_frac 0.2: one long duplicated paragraph of p letters/characters.
		pp := pick([2]int{137, 138}, [2]int{34, 35})
		add("max_dup_para_char_frac", func(m int) string { return grLongDup(zh, 2, m) }, pp[0], pp[1], 0.01)
		// dup_line_frac: en 0.3 (10 duplicates in 34 / 33 lines), zh 0.287 (33 in 115 / 114).
		if zh {
			add("max_dup_line_frac", func(p int) string { return grLines(zh, 33, p) }, 48, 47, 0.003)
		} else {
			add("max_dup_line_frac", func(p int) string { return grLines(zh, 10, p) }, 13, 12, 0.01)
		}
		// dup_line_char_frac 0.2: one long duplicated line.
		pp = pick([2]int{133, 134}, [2]int{30, 31})
		add("max_dup_line_char_frac", func(m int) string { return grLongDup(zh, 1, m) }, pp[0], pp[1], 0.01)
		// top_N_gram_char_frac: a phrase of N tokens ten times.
		for n := 2; n <= 4; n++ {
			pp := pick(map[int][2]int{2: {41, 40}, 3: {96, 95}, 4: {168, 167}}[n], map[int][2]int{2: {68, 67}, 3: {189, 188}, 4: {340, 339}}[n])
			add(fmt.Sprintf("max_top_%d_gram_char_frac", n), func(p int) string { return grTopN(zh, n, 10, p) }, pp[0], pp[1], 0.01)
		}
		// dup_N_gram_char_frac: k phrases of N tokens, each twice (k = 3 in
		// English, 8 in Chinese, where the loose thresholds need more
		// repetition than the 4-gram rule allows for one phrase).
		k := 3
		if zh {
			k = 8
		}
		for n := 5; n <= 10; n++ {
			pp := pick(map[int][2]int{5: {39, 38}, 6: {56, 55}, 7: {76, 75}, 8: {101, 100}, 9: {131, 130}, 10: {169, 168}}[n],
				map[int][2]int{5: {3, 2}, 6: {22, 21}, 7: {50, 49}, 8: {78, 77}, 9: {118, 117}, 10: {172, 171}}[n])
			add(fmt.Sprintf("max_dup_%d_gram_char_frac", n), func(p int) string { return grDupN(zh, n, k, p) }, pp[0], pp[1], 0.02)
		}
	}
	return gens
}

func TestGopherRepetitionRules(t *testing.T) {
	var cases []tuRuleCase
	for _, g := range grGens() {
		cases = append(cases,
			tuRuleCase{name: g.lang + " " + g.rule + " inside", lang: g.lang, text: g.build(g.in), rule: g.rule, near: g.near},
			tuRuleCase{name: g.lang + " " + g.rule + " outside", lang: g.lang, text: g.build(g.out), rule: g.rule, reason: g.reason, near: g.near})
	}
	tuCheckRuleCases(t, GopherRepetition, cases, nil)
}

// TestGopherRepetitionDatatrove checks the details of datatrove's
// algorithms (filters-reference §2) on small documents.
func TestGopherRepetitionDatatrove(t *testing.T) {
	c := GopherRepetition.NewComputer()
	sig := func(text string, words []string, name string) float64 {
		return tuSignal(GopherRepetition, tuSignals(GopherRepetition, c, &Doc{Text: text, Words: words}), name)
	}
	approx := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-12 && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	// Lines split on \n+: "a", "b", "a", "a" → 2 duplicates of 1 character;
	// first occurrences never count. L = 8.
	approx("dup_line_frac", sig("a\nb\n\na\na", nil, "dup_line_frac"), 2.0/4)
	approx("dup_line_char_frac", sig("a\nb\n\na\na", nil, "dup_line_char_frac"), 2.0/8)
	// Paragraphs of the trimmed text split on \n{2,}: "a\nb", "a\na" → none.
	approx("dup_para_frac", sig("a\nb\n\na\na", nil, "dup_para_frac"), 0)
	// A trailing newline makes an empty last line; two of them a duplicate.
	approx("dup_line_frac (empty lines)", sig("\nx\n", nil, "dup_line_frac"), 1.0/3)
	// Top 2-gram: "bb c" and "c d" both twice; the first seen wins the tie:
	// "bb c" (4 characters with the joining space) × 2 / 13.
	approx("top_2_gram_char_frac", sig("bb c d bb c d", nil, "top_2_gram_char_frac"), 2*4.0/13)
	approx("top_4_gram (too few tokens)", sig("a b c", nil, "top_4_gram_char_frac"), math.NaN())
	// Without repetition the top n-gram is the first one, once.
	approx("top_3_gram (no repeat)", sig("ab cd ef gh", nil, "top_3_gram_char_frac"), 8.0/11)
	// Duplicate 5-grams key on the concatenated words, so 研究/生命 and
	// 研究生/命 are the same (datatrove joins with ""): 5 words, 9 characters.
	text := "研究生命起源的问题研究生命起源的问题"
	words := []string{"研究", "生命", "起源", "的", "问题", "研究生", "命", "起源", "的", "问题"}
	approx("dup_5_gram_char_frac (concatenated)", sig(text, words, "dup_5_gram_char_frac"), 9.0/18)
	// After a duplicate the walk jumps by n: "a b c d e" four times gives
	// three duplicates of 5 characters (no overlap counting). L = 39.
	approx("dup_5_gram_char_frac (jump)", sig(strings.TrimSpace(strings.Repeat("a b c d e ", 4)), nil, "dup_5_gram_char_frac"), 15.0/39)
	approx("empty text", sig("", nil, "dup_line_char_frac"), math.NaN())
}

// ---- real documents ----

func TestGopherQualityRealDocs(t *testing.T) {
	tuCheckRealDocs(t, GopherQuality, []tuRealCase{
		{"min_words", "web/text-clean.jsonl", "zh-mh-71bfee3a8935", "zh", "spam ad annotated as main text"},
		{"max_words", "web/text-junk.jsonl", "zh-gne-njxfhn-1", "zh", "page with a 174 217-character SEO keyword line"},
		{"min_mean_word_length", "encoding/mojibake-cases/zh-mojibake.jsonl", "1.garbled", "en", "Chinese UTF-8 read as Latin-1 (mojibake)"},
		{"max_mean_word_length", "langid/udhr/th.txt", "", "th", "Thai without spaces under the default (English) thresholds"},
		{"max_hash_word_ratio", "zh-sft/alpaca-zh/en-source/alpaca_data-0-3252-英文.json", "88.output", "en", "SFT answer made of hashtags"},
		{"max_ellipsis_word_ratio", "zh-sft/alpaca-zh/carbonz0/zh-data-part-00.json", "335.output", "zh", "one-line SFT answer trailing off in ......"},
		{"max_bullet_lines_frac", "zh-sft/alpaca-zh/carbonz0/zh-data-part-00.json", "42.output", "zh", "SFT answer that is a bullet list"},
		{"max_ellipsis_lines_frac", "web/en-web-sample.jsonl", "en-dolma-cc_en_head-0174-5", "en", "Common Crawl teaser lines ending in ..."},
		{"min_alpha_words_frac", "web/text-junk.jsonl", "zh-gne-shanxi-1", "zh", "news page full of dates, numbers and menus"},
		{"min_stop_words", "zh-sft/alpaca-zh/carbonz0/zh-data-part-00.json", "32.output", "zh", "SFT answer listing names without function words"},
	})
}

func TestGopherRepetitionRealDocs(t *testing.T) {
	tuCheckRealDocs(t, GopherRepetition, []tuRealCase{
		{"max_dup_para_frac", "web/text-clean.jsonl", "en-sh-5f03fc173ebc", "en", "meal plan with repeated paragraphs"},
		{"max_dup_para_char_frac", "web/text-clean.jsonl", "en-sh-5f03fc173ebc", "en", "meal plan with repeated paragraphs"},
		{"max_dup_line_frac", "web/text-junk.jsonl", "zh-gne-list-163-1", "zh", "163.com news list page"},
		{"max_dup_line_char_frac", "web/text-junk.jsonl", "zh-gne-list-163-2", "zh", "163.com news list page"},
		{"max_top_2_gram_char_frac", "zh-sft/alpaca-zh/carbonz0/zh-data-part-00.json", "32.output", "zh", "SFT answer repeating one pattern"},
		{"max_top_3_gram_char_frac", "web/text-junk.jsonl", "zh-gne-shanxi-1", "zh", "news page with repeated menu and date runs"},
		{"max_top_4_gram_char_frac", "zh-sft/alpaca-zh/carbonz0/zh-data-part-00.json", "17.output", "zh", "SFT answer repeating its phrase"},
		{"max_dup_5_gram_char_frac", "web/text-junk.jsonl", "zh-cx-30", "zh", "NetEase finance page with related-article lists"},
		{"max_dup_6_gram_char_frac", "web/text-junk.jsonl", "zh-cx-30", "zh", "NetEase finance page with related-article lists"},
		{"max_dup_7_gram_char_frac", "zh-sft/alpaca-zh/en-source/alpaca_data-0-3252-英文.json", "217.output", "en", "SFT answer repeating sentences"},
		{"max_dup_8_gram_char_frac", "zh-sft/alpaca-zh/en-source/alpaca_data-0-3252-英文.json", "2631.output", "en", "SFT answer repeating sentences"},
		{"max_dup_9_gram_char_frac", "web/text-junk.jsonl", "zh-mh-3e863fa9ac34", "zh", "page whose boilerplate repeats"},
		{"max_dup_10_gram_char_frac", "zh-sft/alpaca-zh/en-source/alpaca_data-0-3252-英文.json", "1398.output", "en", "SFT answer repeating sentences"},
	})
}

// TestGopherWithJieba segments real Chinese with the segment stage and
// shows how the word-level signals move from characters to jieba words:
// longer words, fewer tokens, so a larger share of punctuation tokens and
// far less n-gram repetition.
func TestGopherWithJieba(t *testing.T) {
	texts := []string{
		tuRealDoc(t, "zh-prose/呐喊/《呐喊》自序.txt", ""),
		tuRealDoc(t, "zh-laws/宪法/宪法.md", ""),
	}
	words := tuSegment(t, texts)
	for i, text := range texts {
		q := GopherQuality.NewComputer()
		r := GopherRepetition.NewComputer()
		chars := tuSignals(GopherQuality, q, &Doc{Text: text, Lang: "zh"})
		jieba := tuSignals(GopherQuality, q, &Doc{Text: text, Lang: "zh", Words: words[i]})
		rc := tuSignals(GopherRepetition, r, &Doc{Text: text, Lang: "zh"})
		rj := tuSignals(GopherRepetition, r, &Doc{Text: text, Lang: "zh", Words: words[i]})
		get := tuSignal
		t.Logf("doc %d: words %v → %v, mean_word_length %.3f → %.3f, alpha_words_frac %.3f → %.3f, stop_words %v → %v, dup_5 %.3f → %.3f, dup_10 %.3f → %.3f",
			i, get(GopherQuality, chars, "words"), get(GopherQuality, jieba, "words"),
			get(GopherQuality, chars, "mean_word_length"), get(GopherQuality, jieba, "mean_word_length"),
			get(GopherQuality, chars, "alpha_words_frac"), get(GopherQuality, jieba, "alpha_words_frac"),
			get(GopherQuality, chars, "stop_words"), get(GopherQuality, jieba, "stop_words"),
			get(GopherRepetition, rc, "dup_5_gram_char_frac"), get(GopherRepetition, rj, "dup_5_gram_char_frac"),
			get(GopherRepetition, rc, "dup_10_gram_char_frac"), get(GopherRepetition, rj, "dup_10_gram_char_frac"))
		if !(get(GopherQuality, jieba, "words") < get(GopherQuality, chars, "words")) {
			t.Errorf("doc %d: jieba should give fewer words than characters", i)
		}
		if m := get(GopherQuality, jieba, "mean_word_length"); !(m > 1.3 && m < 3) {
			t.Errorf("doc %d: mean jieba word length %v, want 1.3–3 characters", i, m)
		}
		if !(get(GopherQuality, jieba, "alpha_words_frac") < get(GopherQuality, chars, "alpha_words_frac")) {
			t.Errorf("doc %d: the punctuation share should grow with jieba words", i)
		}
		if !(get(GopherRepetition, rj, "dup_5_gram_char_frac") < get(GopherRepetition, rc, "dup_5_gram_char_frac")) {
			t.Errorf("doc %d: 5-grams of words should repeat less than 5-grams of characters", i)
		}
		if get(GopherQuality, jieba, "stop_words") < 2 {
			t.Errorf("doc %d: jieba words should hold at least two cmn stop words", i)
		}
	}
}

func TestGopherGolden(t *testing.T) {
	tuCheckGolden(t, GopherQuality, "gopher")
	tuCheckGolden(t, GopherRepetition, "gopher")
}

func TestGopherStage(t *testing.T) {
	texts := []string{gqZh([]string{"的", "是"}, tuZhChars(0, 48)), gqZh([]string{"的", "的"}, tuZhChars(0, 48)), ""}
	reasons, words := tuStageRun(t, GopherQuality, "zh", texts)
	if want := []string{"", "gopher_quality.stop_words<2", "gopher_quality.words<50"}; strings.Join(reasons, "|") != strings.Join(want, "|") {
		t.Errorf("reasons %q, want %q", reasons, want)
	}
	if words[0] != 50.0 || words[2] != 0.0 {
		t.Errorf("gopher_quality_words column %v", words)
	}
	reasons, dup := tuStageRun(t, GopherRepetition, "en", []string{"a\na\na", ""})
	if reasons[0] != "gopher_repetition.dup_para_frac>0.3" && reasons[0] != "gopher_repetition.dup_line_frac>0.3" || reasons[1] != "" {
		t.Errorf("reasons %q", reasons)
	}
	_ = dup
}
