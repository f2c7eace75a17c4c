package filters

import (
	"math"
	"math/bits"
	"strings"
)

// GopherQuality is the gopher_quality family: Gopher's quality heuristics
// (Rae et al. 2021, App. A) as datatrove's GopherQualityFilter computes
// them (filters-reference §1), with FineWeb-2's cmn_Hani thresholds for
// Chinese (§5).
//
// Words. W is the document's token stream (tuTokens: the segment stage's
// words when it ran, jieba for Chinese, plus a token for every punctuation
// mark between them; else the fallback tokenizer, where every Han or kana
// character is a word). Punctuation tokens are part of W because datatrove's
// tokenizers (spaCy, jieba) emit them and its ratios were set on such
// streams. NS ("non-symbol words") are the tokens with a character outside
// datatrove's PUNCTUATION_SET.
//
//   - words: |NS|.
//   - mean_word_length: mean length in characters over NS (NaN without NS).
//   - hash_word_ratio: occurrences of '#' in the text / |W|.
//   - ellipsis_word_ratio: (non-overlapping "..." + "…") in the text / |W|
//     (both NaN without tokens). Gopher checks both against one threshold
//     (max_symbol_word_ratio); here each has its own rule.
//   - bullet_lines_frac: lines (Python splitlines) whose left-trimmed text
//     starts with • or - / lines (NaN without lines).
//   - ellipsis_lines_frac: lines whose right-trimmed text ends with ... or
//     … / lines.
//   - alpha_words_frac: tokens of W with a letter (Python isalpha: Unicode
//     L, so Han counts) / |W|.
//   - stop_words: distinct stop words among W, matched case-sensitively:
//     Gopher's English list (the be to of and that have with) for every
//     language but zh, FineWeb-2's cmn_Hani list of 22 (的 年 在 月 是 和 日
//     了 於 · 為 有 被 人 中 为 他 與 後 也 而 由) for zh.
//
// Thresholds: default = datatrove's (= Gopher's paper); zh = FineWeb-2
// cmn_Hani (word length 1–5, min_stop_words 2 with its list, Gopher's
// values for the rules its YAML does not set), except min_alpha_words_frac:
// 0.67 instead of 0.735, from a measurement on clean text (see Defaults;
// keep rates per corpus are logged by TestFamilyDropRates in
// textutil_test.go). The zh word-length bounds assume jieba words: with the
// fallback tokenizer every Han word has one character, the mean is about 1
// and the rule cannot fire.
var GopherQuality = &Family{
	Name: "gopher_quality",
	Doc:  "Gopher quality heuristics (datatrove GopherQualityFilter; FineWeb-2 cmn_Hani thresholds for zh): word count and length, # and … per word, bullet and ellipsis lines, alphabetic words, stop words",
	Signals: []Signal{
		{Name: "words", Doc: "tokens with a character outside datatrove's PUNCTUATION_SET (non-symbol words)"},
		{Name: "mean_word_length", Doc: "mean length in characters of the non-symbol words"},
		{Name: "hash_word_ratio", Doc: "'#' characters per token"},
		{Name: "ellipsis_word_ratio", Doc: "'...' and '…' per token"},
		{Name: "bullet_lines_frac", Doc: "share of lines (Python splitlines) starting with • or - after leading white space"},
		{Name: "ellipsis_lines_frac", Doc: "share of lines ending with ... or … before trailing white space"},
		{Name: "alpha_words_frac", Doc: "share of tokens (punctuation included) with a letter"},
		{Name: "stop_words", Doc: "distinct stop words of the document's language present (English list; FineWeb-2's cmn list for zh)"},
	},
	Rules: []Rule{
		{Key: "min_words", Signal: "words"},
		{Key: "max_words", Signal: "words"},
		{Key: "min_mean_word_length", Signal: "mean_word_length"},
		{Key: "max_mean_word_length", Signal: "mean_word_length"},
		{Key: "max_hash_word_ratio", Signal: "hash_word_ratio"},
		{Key: "max_ellipsis_word_ratio", Signal: "ellipsis_word_ratio"},
		{Key: "max_bullet_lines_frac", Signal: "bullet_lines_frac"},
		{Key: "max_ellipsis_lines_frac", Signal: "ellipsis_lines_frac"},
		{Key: "min_alpha_words_frac", Signal: "alpha_words_frac"},
		{Key: "min_stop_words", Signal: "stop_words"},
	},
	NewComputer: func() Computer { return &gqComputer{} },
	Defaults: map[string]map[string]float64{
		"default": {
			"min_words":               50,
			"max_words":               100000,
			"min_mean_word_length":    3,
			"max_mean_word_length":    10,
			"max_hash_word_ratio":     0.1,
			"max_ellipsis_word_ratio": 0.1,
			"max_bullet_lines_frac":   0.9,
			"max_ellipsis_lines_frac": 0.3,
			"min_alpha_words_frac":    0.8,
			"min_stop_words":          2,
		},
		"zh": {
			"min_words":               50,
			"max_words":               100000,
			"min_mean_word_length":    1, // FW2 cmn_Hani (jieba words)
			"max_mean_word_length":    5, // FW2 cmn_Hani
			"max_hash_word_ratio":     0.1,
			"max_ellipsis_word_ratio": 0.1,
			"max_bullet_lines_frac":   0.9,
			"max_ellipsis_lines_frac": 0.3,
			// FW2 cmn_Hani says 0.735. Measured with the segment stage's jieba
			// words (TestFamilyDropRates): it drops 60 of 295 zh-prose works
			// over 200 characters (20 %: Lu Xun's dense punctuation, —— and
			// …… count as two tokens each, and the 〔１〕 note markers as three)
			// and 8 of 551 laws; 0.67 drops 5 works (1.7 %) and 5 laws (0.9 %:
			// holiday tables, 附则 with dates), the junk it lets through is
			// caught by fineweb and gopher_repetition.
			"min_alpha_words_frac": 0.67,
			"min_stop_words":       2, // FW2, with its cmn stop-word list
		},
	},
}

// Stop-word lists by language ("" = every language without its own).
var (
	gopherStopWordsEn = newTuWordSet("the", "be", "to", "of", "and", "that", "have", "with")
	gopherStopWordsZh = newTuWordSet("的", "年", "在", "月", "是", "和", "日", "了", "於", "·", "為",
		"有", "被", "人", "中", "为", "他", "與", "後", "也", "而", "由")
)

func gopherStopWords(lang string) *tuWordSet {
	if lang == "zh" {
		return gopherStopWordsZh
	}
	return gopherStopWordsEn
}

const (
	gqWords = iota
	gqMeanWordLength
	gqHashWordRatio
	gqEllipsisWordRatio
	gqBulletLinesFrac
	gqEllipsisLinesFrac
	gqAlphaWordsFrac
	gqStopWords
)

type gqComputer struct {
	toks  tuTokens
	lines []tuSpan
}

func (c *gqComputer) Compute(d *Doc, out []float64) {
	text := d.Text
	st := c.toks.sharedStats(d)
	out[gqWords] = float64(st.nonSymbol)
	out[gqMeanWordLength] = tuRatio(st.nonSymbolRunes, st.nonSymbol)
	out[gqHashWordRatio] = tuRatio(strings.Count(text, "#"), st.tokens)
	out[gqEllipsisWordRatio] = tuRatio(strings.Count(text, "...")+strings.Count(text, "…"), st.tokens)
	out[gqAlphaWordsFrac] = tuRatio(st.alpha, st.tokens)
	out[gqStopWords] = float64(bits.OnesCount32(st.stopWords))

	c.lines = tuSplitLines(c.lines[:0], text)
	var bullets, ellipses int
	for _, l := range c.lines {
		line := text[l.start:l.end]
		if s := tuTrimLeft(line); strings.HasPrefix(s, "•") || strings.HasPrefix(s, "-") {
			bullets++
		}
		if s := tuTrimRight(line); strings.HasSuffix(s, "...") || strings.HasSuffix(s, "…") {
			ellipses++
		}
	}
	out[gqBulletLinesFrac] = tuRatio(bullets, len(c.lines))
	out[gqEllipsisLinesFrac] = tuRatio(ellipses, len(c.lines))
}

// GopherRepetition is the gopher_repetition family: Gopher's repetition
// heuristics (Rae et al. 2021, Table A1) as datatrove's
// GopherRepetitionFilter computes them (filters-reference §2), with
// FineWeb-2's cmn_Hani thresholds for Chinese (§5). L is the length of the
// text in characters (white space included); every *_char_frac is NaN for
// an empty text.
//
//   - dup_para_frac, dup_para_char_frac: paragraphs are the trimmed text
//     split on runs of two or more "\n"; a paragraph equal to an earlier one
//     is a duplicate (first occurrences never count). Duplicates /
//     paragraphs, and duplicate characters / L.
//   - dup_line_frac, dup_line_char_frac: the same over lines, the text split
//     on runs of "\n" (not trimmed: a leading or trailing "\n" makes an
//     empty line, as re.split does).
//   - top_N_gram_char_frac (N = 2, 3, 4): over the token stream W (as in
//     gopher_quality: words plus punctuation tokens, jieba words when the
//     segment stage ran), the most frequent N-gram (ties: the first seen)
//     joined with single spaces; its length × its count / L. Can exceed 1.
//     NaN with fewer than N tokens.
//   - dup_N_gram_char_frac (N = 5 … 10): i runs from 0 while i ≤ |W| − N;
//     the key is the N tokens concatenated with no separator (so 研究/生命
//     and 研究生/命 are the same key, as in datatrove); if the key was seen,
//     its length is added and i jumps by N, else it is remembered and i
//     moves by 1. Sum / L (≤ 1).
//
// Every count is exact (ngGrams, tuDuplicates): hash tables only find
// candidates, which are then compared by their characters, so a hash
// collision (even one made on purpose) cannot change a signal.
//
// Thresholds: default = datatrove's (= Gopher's Table A1); zh = FineWeb-2
// cmn_Hani for the line and top n-gram rules, FineWeb-2 × 1.75 for the
// duplicate n-gram rules (see the zh section). FineWeb-2 switches the
// paragraph rules and the duplicate-line-character rule off; Family
// defaults cannot switch a default-section rule off for one language (a
// value of 1 would), and they stay at Gopher's values for zh because
// TestFamilyDropRates shows them dropping no zh-prose or zh-laws document
// (maxima 0.16, 0.05 and 0.07 against 0.3, 0.2, 0.2); on text-clean they
// drop one 205-character news item whose photo caption appears twice.
//
// The zh values assume jieba words (FineWeb-2 set them on jieba tokens, and
// the zh-web recipe runs segment first). Without the segment stage every
// Han character is a token, 5-grams are five characters, and statutes
// repeat far more at that grain: the zh defaults then drop 251 of 551
// zh-laws files (46 %), so run segment before this family for Chinese.
var GopherRepetition = &Family{
	Name: "gopher_repetition",
	Doc:  "Gopher repetition heuristics (datatrove GopherRepetitionFilter; FineWeb-2 cmn_Hani thresholds for zh): duplicate paragraphs and lines, top 2–4-grams, duplicate 5–10-grams",
	Signals: []Signal{
		{Name: "dup_para_frac", Doc: "duplicate paragraphs (split on \\n\\n+) / paragraphs"},
		{Name: "dup_para_char_frac", Doc: "characters in duplicate paragraphs / characters"},
		{Name: "dup_line_frac", Doc: "duplicate lines (split on \\n+) / lines"},
		{Name: "dup_line_char_frac", Doc: "characters in duplicate lines / characters"},
		{Name: "top_2_gram_char_frac", Doc: "length × count of the most frequent token 2-gram / characters"},
		{Name: "top_3_gram_char_frac", Doc: "length × count of the most frequent token 3-gram / characters"},
		{Name: "top_4_gram_char_frac", Doc: "length × count of the most frequent token 4-gram / characters"},
		{Name: "dup_5_gram_char_frac", Doc: "characters in repeated token 5-grams / characters"},
		{Name: "dup_6_gram_char_frac", Doc: "characters in repeated token 6-grams / characters"},
		{Name: "dup_7_gram_char_frac", Doc: "characters in repeated token 7-grams / characters"},
		{Name: "dup_8_gram_char_frac", Doc: "characters in repeated token 8-grams / characters"},
		{Name: "dup_9_gram_char_frac", Doc: "characters in repeated token 9-grams / characters"},
		{Name: "dup_10_gram_char_frac", Doc: "characters in repeated token 10-grams / characters"},
	},
	Rules: []Rule{
		{Key: "max_dup_para_frac", Signal: "dup_para_frac"},
		{Key: "max_dup_para_char_frac", Signal: "dup_para_char_frac"},
		{Key: "max_dup_line_frac", Signal: "dup_line_frac"},
		{Key: "max_dup_line_char_frac", Signal: "dup_line_char_frac"},
		{Key: "max_top_2_gram_char_frac", Signal: "top_2_gram_char_frac"},
		{Key: "max_top_3_gram_char_frac", Signal: "top_3_gram_char_frac"},
		{Key: "max_top_4_gram_char_frac", Signal: "top_4_gram_char_frac"},
		{Key: "max_dup_5_gram_char_frac", Signal: "dup_5_gram_char_frac"},
		{Key: "max_dup_6_gram_char_frac", Signal: "dup_6_gram_char_frac"},
		{Key: "max_dup_7_gram_char_frac", Signal: "dup_7_gram_char_frac"},
		{Key: "max_dup_8_gram_char_frac", Signal: "dup_8_gram_char_frac"},
		{Key: "max_dup_9_gram_char_frac", Signal: "dup_9_gram_char_frac"},
		{Key: "max_dup_10_gram_char_frac", Signal: "dup_10_gram_char_frac"},
	},
	NewComputer: func() Computer { return &grComputer{} },
	Defaults: map[string]map[string]float64{
		"default": {
			"max_dup_para_frac":         0.3,
			"max_dup_para_char_frac":    0.2,
			"max_dup_line_frac":         0.3,
			"max_dup_line_char_frac":    0.2,
			"max_top_2_gram_char_frac":  0.2,
			"max_top_3_gram_char_frac":  0.18,
			"max_top_4_gram_char_frac":  0.16,
			"max_dup_5_gram_char_frac":  0.15,
			"max_dup_6_gram_char_frac":  0.14,
			"max_dup_7_gram_char_frac":  0.13,
			"max_dup_8_gram_char_frac":  0.12,
			"max_dup_9_gram_char_frac":  0.11,
			"max_dup_10_gram_char_frac": 0.10,
		},
		"zh": {
			// Gopher's values: FineWeb-2 switches these three off (see the
			// family's doc for why they stay on).
			"max_dup_para_frac":      0.3,
			"max_dup_para_char_frac": 0.2,
			"max_dup_line_char_frac": 0.2,
			// FineWeb-2 cmn_Hani.
			"max_dup_line_frac":        0.287,
			"max_top_2_gram_char_frac": 0.256,
			"max_top_3_gram_char_frac": 0.201,
			"max_top_4_gram_char_frac": 0.171,
			// FineWeb-2 cmn_Hani × 1.75 (0.198, 0.182, 0.167, 0.154, 0.14,
			// 0.127 there). Statutes are formulaic (依照本法第…条的规定,
			// 人民法院应当…): with jieba words FW2's values drop 166 of 551
			// zh-laws files (30 %; median dup_5 0.16, 95th percentile 0.30),
			// FW2 × 1.5 still 30 (5.4 %), × 1.75 drops 11 (2 %) and keeps the
			// shape of FW2's curve. Junk is caught by dup_line_frac and the
			// other families; zh-prose stays at 0 drops (max dup_5 0.24).
			"max_dup_5_gram_char_frac":  0.35,
			"max_dup_6_gram_char_frac":  0.32,
			"max_dup_7_gram_char_frac":  0.29,
			"max_dup_8_gram_char_frac":  0.27,
			"max_dup_9_gram_char_frac":  0.245,
			"max_dup_10_gram_char_frac": 0.22,
		},
	},
}

const (
	grDupParaFrac = iota
	grDupParaCharFrac
	grDupLineFrac
	grDupLineCharFrac
	grTop2              // top 2, 3, 4 follow
	grDup5 = grTop2 + 3 // dup 5 … 10 follow
)

type grComputer struct {
	toks  tuTokens
	parts []tuSpan
	grams ngGrams
}

func (c *grComputer) Compute(d *Doc, out []float64) {
	text := d.Text
	L := tuRuneCount(text)
	charFrac := func(n int) float64 { return tuRatio(n, L) }

	trimmed := tuTrim(text)
	c.parts = tuSplitNewlineRuns(c.parts[:0], trimmed, 2)
	dups, dupRunes := tuDuplicates(&c.grams.table, trimmed, c.parts)
	out[grDupParaFrac] = tuRatio(dups, len(c.parts))
	out[grDupParaCharFrac] = charFrac(dupRunes)

	c.parts = tuSplitNewlineRuns(c.parts[:0], text, 1)
	dups, dupRunes = tuDuplicates(&c.grams.table, text, c.parts)
	out[grDupLineFrac] = tuRatio(dups, len(c.parts))
	out[grDupLineCharFrac] = charFrac(dupRunes)

	c.toks.build(d)
	defer c.toks.release()
	c.toks.publish(d) // for gopher_quality and fineweb later in the chain
	g := &c.grams
	g.prepare(text, c.toks.toks, c.toks.invalid)
	defer g.release()
	T := len(c.toks.toks)
	for n, top := range g.top() {
		if n += 2; T < n {
			out[grTop2+n-2] = math.NaN()
		} else {
			out[grTop2+n-2] = charFrac(top)
		}
	}
	for n := 5; n <= 10; n++ {
		out[grDup5+n-5] = charFrac(g.dup(n))
	}
}

func grResize[E any](s []E, n int) []E {
	if cap(s) < n {
		return make([]E, n, n+n/4)
	}
	return s[:n]
}
