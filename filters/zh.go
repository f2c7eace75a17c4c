package filters

import (
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// ZhQuality is the zh_quality family: character-level quality signals for
// Chinese text that need no word segmentation.
//
// What it counts. Every signal is over the document's visible characters:
// every code point that is not white space (unicode.IsSpace, which takes in
// U+3000 and U+00A0) and not a control, format or private-use character
// (U+200B, U+FEFF …). Lines are the text split on "\n" ("\r" is white
// space); a line is blank when it has no visible character.
//
//   - han_frac: Han characters (Script=Han) / visible characters.
//   - mean_line_length: visible characters / non-blank lines.
//   - rep_13gram_char_frac: the share of visible characters covered by
//     repeated 13-character n-grams, Gopher's duplicate-n-gram fraction
//     (datatrove gopher_repetition_filter, see filters-reference §2) with
//     characters for words: over the sequence of visible characters, i runs
//     from 0 while i ≤ N−13; if the 13 characters at i were seen before,
//     13 is added to the count and i jumps by 13, else they are remembered
//     and i moves by 1. Score = count / N (≤ 1). 0 for N < 13. The n-grams
//     are compared by a 64-bit rolling hash (see zhRollB).
//   - unique_char_frac: distinct visible characters / visible characters.
//   - char_entropy: Shannon entropy, in bits, of the distribution of
//     visible characters.
//   - more_link_lines_frac: non-blank lines whose end is a "more" link
//     (zhMoreSuffixes) / non-blank lines.
//   - bracket_boilerplate_frac: label lines / non-blank lines. A label line
//     has fewer than 20 visible characters, at least half of them inside
//     【】 [] ［］ 〔〕 〖〗 (brackets included; an unclosed bracket runs to
//     the end of its line): "[详细]", "【打印】【关闭】", "[图集]标题".
//     The length bound keeps out text that merely starts with a label
//     (【环球网报道】…) and JSON or code lists in instruction data.
//   - digit_frac: decimal digits (Nd: ASCII, full-width …; not 一二三) /
//     visible characters.
//   - nav_lines_frac: navigation lines / non-blank lines. A navigation line
//     has fewer than 20 visible characters and does not end in
//     punctuation (zhLineEndPunct: 。！？；：，、… and closing quotes and
//     brackets 」』”）》】 count as punctuation): menu items, link lists,
//     list-page titles and user names.
//
// Every signal is NaN for a document without visible characters.
//
// Why these and not FineWeb-2's cmn_Hani thresholds. The cmn_Hani values
// (filters-reference §5) all live on word or line signals that other
// families compute: dup_line_frac, the top 2/3/4-gram and duplicate
// 5…10-gram fractions in gopher_repetition, line_punct_thr and
// new_line_ratio in fineweb, average word length, alpha-word ratio and
// stop words in gopher_quality. They count jieba words, which a Go
// segmenter only approximates. This pack does not repeat them; its one
// overlap is rep_13gram_char_frac, the character version of the duplicate
// n-gram rules: it needs no segmentation (so it holds with or without the
// segment stage and for text jieba cuts badly), and 13 characters is about
// 8 jieba words (1.6 characters a word), between FineWeb-2's 7- and
// 8-gram. Its threshold is calibrated on the shared corpora rather than
// taken from FineWeb-2. nav_lines_frac is near FineWeb's line rules
// (share of lines ending in a stop character, share of lines of ≤ 30
// characters) but is neither: a line must be short and unpunctuated, and
// Chinese closers and commas count as punctuation (FineWeb's stop
// characters exclude 」』”）…, so Chinese dialogue fails there,
// filters-reference §10). FineWeb's two rules miss one of the four list
// pages in web/ (tieba has 11 % of its lines ending in a stop character,
// over FineWeb-2's cmn line_punct 0.106, and FineWeb-2 switched the
// short-line rule off), while this one separates all four from text with
// a margin (see Defaults).
//
// Languages. The rules have thresholds under "zh" only and the default
// section is empty, so the family drops nothing that the langid stage did
// not label zh (nor anything when langid did not run): Han share, "更多"
// lines and digit shares mean nothing for English or Japanese. The signals
// are computed for every document whatever its language.
var ZhQuality = &Family{
	Name: "zh_quality",
	Doc:  "Chinese character-level quality: Han share, line length, repeated 13-character n-grams, character variety and entropy, 更多/>> link lines, 【】 label lines, digits (rules under zh only)",
	Signals: []Signal{
		{Name: "han_frac", Doc: "Han characters / visible (non-space, non-control) characters"},
		{Name: "mean_line_length", Doc: "visible characters per non-blank line (lines split on \\n)"},
		{Name: "rep_13gram_char_frac", Doc: "share of visible characters covered by repeated 13-character n-grams (Gopher duplicate n-gram fraction over characters)"},
		{Name: "unique_char_frac", Doc: "distinct visible characters / visible characters"},
		{Name: "char_entropy", Doc: "Shannon entropy of the visible-character distribution, bits"},
		{Name: "more_link_lines_frac", Doc: "share of non-blank lines ending in a 'more' link: 更多, 阅读全文, 查看详情, >>, », read more …"},
		{Name: "bracket_boilerplate_frac", Doc: "share of non-blank lines that are short (< 20 visible characters) and at least half inside 【】/[]/［］/〔〕/〖〗 labels"},
		{Name: "digit_frac", Doc: "decimal digits / visible characters"},
		{Name: "nav_lines_frac", Doc: "share of non-blank lines with fewer than 20 visible characters and no punctuation at their end: menu, link and list-item lines"},
	},
	// Order = the order Decide tries them: the first failing rule is the
	// drop reason, so the most specific ones go first.
	Rules: []Rule{
		{Key: "min_han_frac", Signal: "han_frac"},
		{Key: "max_nav_lines_frac", Signal: "nav_lines_frac"},
		{Key: "max_more_link_lines_frac", Signal: "more_link_lines_frac"},
		{Key: "max_bracket_boilerplate_frac", Signal: "bracket_boilerplate_frac"},
		{Key: "max_rep_13gram_char_frac", Signal: "rep_13gram_char_frac"},
		{Key: "min_mean_line_length", Signal: "mean_line_length"},
		{Key: "max_mean_line_length", Signal: "mean_line_length"},
		{Key: "min_char_entropy", Signal: "char_entropy"},
		{Key: "min_unique_char_frac", Signal: "unique_char_frac"},
		{Key: "max_unique_char_frac", Signal: "unique_char_frac"},
		{Key: "max_digit_frac", Signal: "digit_frac"},
	},
	NewComputer: func() Computer { return newZhComputer() },
	// Calibrated on the shared corpora (TestZhDropRates measures them):
	// zh-prose (298 Lu Xun works), zh-laws (551 statutes), web/text-junk
	// and text-clean, and the zh-sft instruction sets. "max" below is the
	// largest value among the zh-prose and zh-laws documents over 200
	// characters and the 52 zh text-clean documents, unless said otherwise.
	Defaults: map[string]map[string]float64{
		"default": {}, // no rule for any language but zh
		"zh": {
			// min over prose 0.71, laws 0.68, clean 0.57; drops the
			// URL-list page zh-gne-shanxi-1 (0.27). Chinese text that is
			// mostly code, English or tables goes too: 8.8 % of the
			// ShareGPT and 3.2 % of the DPO records when all are labelled
			// zh (langid labels many of those en or ru).
			"min_han_frac": 0.3,
			// The 4 list pages score 0.72–0.87, text-junk zh median 0.65;
			// max prose 0.61 (野草 《野草》题辞, a poem), laws 0.67 (one
			// short measurement-list regulation), clean 0.79 (2 of 52 over
			// 0.65). Poems, lyrics and bare lists without punctuation
			// score high too: 2.6 % of the ShareGPT and 1.9 % of the DPO
			// records are over 0.65 (raise it or switch it off with null
			// for instruction data).
			"max_nav_lines_frac": 0.65,
			// prose and laws 0, clean 0.083 (1 of 12 lines); drops the
			// two text-junk portal pages at 0.106 and 0.119.
			"max_more_link_lines_frac": 0.1,
			// prose 0.125, laws 0.1, clean 0.2; drops the DPO answer
			// that is only template slots ([问题]\n…[回答]\n是的\n[信心]).
			"max_bracket_boilerplate_frac": 0.3,
			// Statutes repeat themselves: laws p95 0.25, max 0.39 (刑法);
			// clean 0.40, text-junk 0.45. Above 0.5: ShareGPT threads
			// that paste the same code or list again (6 of 465).
			"max_rep_13gram_char_frac": 0.5,
			// prose 8.5, laws 23, clean 12.8, junk 7.7: only pure menus
			// (lines of 2–5 characters) are below 6.
			"min_mean_line_length": 6,
			// prose 6.29, laws 5.97, clean 5.05; every zh-sft record
			// ≥ 3.32. 锟斤拷 mojibake runs score 2.5–3.5. Entropy is at
			// most log2(visible characters), so documents of fewer than
			// 8 visible characters fail too: put the length stage first.
			"min_char_entropy": 3.0,
			// prose 0.023, laws 0.134, clean 0.27 (a sports results
			// page); above 0.4: number tables and digit puzzles in the
			// instruction sets (5 records).
			"max_digit_frac": 0.4,
			// Off: max_mean_line_length (one-paragraph documents and SFT
			// answers are legitimately one line), min/max_unique_char_frac
			// (it falls with length, 0.012 for a 94 000-character law and
			// 1.0 for a short sentence, so no one threshold fits).
		},
	},
}

// Signal slots of ZhQuality, in Signals order.
const (
	zhSigHan = iota
	zhSigMeanLine
	zhSigRep13
	zhSigUnique
	zhSigEntropy
	zhSigMoreLink
	zhSigBracket
	zhSigDigit
	zhSigNav
)

// zhRepN is the n-gram length, in characters, of rep_13gram_char_frac.
const zhRepN = 13

// zhMoreSuffixes end a "more" link line: a line (right-trimmed of white
// space) ending in one of them counts, compared case-insensitively. Before
// the word check, closing brackets ] 】 ］ ) ） are stripped, so "[更多]"
// and "【查看详情】" count too. The words are what portals put after a
// teaser or at the end of a list; as sentence endings they would be
// followed by punctuation. Left out on purpose: "展开" alone (a heading may
// end in 全面展开), "全文" alone (a law title line may end in 全文), "》"
// (book titles), "…" (the gopher_quality ellipsis rule covers it).
var zhMoreSuffixes = []string{
	// symbols
	">>", "》》", "»", "›", "→", "≫", "＞＞", "&gt;&gt;",
	// Chinese (更多 covers 查看更多 and 加载更多, 详情 查看详情, 全部 显示全部)
	"更多", "阅读全文", "展开全文", "查看全文", "全文阅读", "阅读原文", "查看原文",
	"点击展开", "展开阅读", "点击查看", "点击进入", "进入专题", "详情", "详细",
	"全部", "更多精彩", "收起",
	// English (more covers read more and show more)
	"more", "see all", "view all", "continue reading",
}

// zhMoreSymbols is the number of symbol suffixes at the head of
// zhMoreSuffixes, matched before closing brackets are stripped.
const zhMoreSymbols = 8

// zhMoreLast holds the last character of every suffix (both cases for
// ASCII letters): a line whose last character is not in it is not a "more"
// line, which spares most lines the suffix comparisons.
var zhMoreLast = func() map[rune]bool {
	m := map[rune]bool{}
	for _, s := range zhMoreSuffixes {
		r, _ := utf8.DecodeLastRuneInString(s)
		m[r] = true
		if r >= 'a' && r <= 'z' {
			m[r-'a'+'A'] = true
		}
	}
	return m
}()

// zhIsMoreLine reports whether a line (no "\n") ends in a "more" link.
func zhIsMoreLine(line string) bool {
	line = strings.TrimRightFunc(line, zhIsTrailSpace)
	r, _ := utf8.DecodeLastRuneInString(line)
	if !zhMoreLast[r] && !zhIsCloser(r) {
		return false
	}
	for _, s := range zhMoreSuffixes[:zhMoreSymbols] {
		if strings.HasSuffix(line, s) {
			return true
		}
	}
	line = strings.TrimRightFunc(line, func(r rune) bool { return zhIsCloser(r) || zhIsTrailSpace(r) })
	r, _ = utf8.DecodeLastRuneInString(line)
	if !zhMoreLast[r] {
		return false
	}
	for _, s := range zhMoreSuffixes[zhMoreSymbols:] {
		if zhHasSuffixFold(line, s) {
			return true
		}
	}
	return false
}

func zhIsTrailSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\r' || r == '\u00a0' || r == '\u3000'
}

// zhIsCloser: the closing brackets stripped before the word check.
func zhIsCloser(r rune) bool {
	return r == ']' || r == '】' || r == '］' || r == ')' || r == '）'
}

// zhHasSuffixFold is strings.HasSuffix with ASCII case folding, and a
// word boundary before an ASCII suffix ("Amore" does not end in "more").
func zhHasSuffixFold(s, suffix string) bool {
	if len(s) < len(suffix) {
		return false
	}
	tail := s[len(s)-len(suffix):]
	if suffix[0] >= 0x80 {
		return tail == suffix
	}
	if !strings.EqualFold(tail, suffix) {
		return false
	}
	if len(s) == len(suffix) {
		return true
	}
	c := s[len(s)-len(suffix)-1]
	return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
}

// zhNavLineChars: a line with fewer visible characters than this and no
// punctuation at its end counts for nav_lines_frac. Portal menus, link
// lists and list pages are made of such lines (a news title is 10–20
// characters); text is made of sentences, and its short lines (headings,
// 第一章 总则) are a minority.
const zhNavLineChars = 20

// zhLineEndPunct reports whether a line ending in r ends like text: in
// sentence or clause punctuation, or in a closing quote or bracket (Chinese
// dialogue ends in 」 or ”, a line broken mid-sentence in ， or 、). Unlike
// FineWeb's stop characters (filters-reference §10), closers and commas
// count: this marks lines that are not text, not lines that lack a full
// stop.
func zhLineEndPunct(r rune) bool {
	switch r {
	case '。', '！', '？', '!', '?', '．', '.', '；', ';', '：', ':', '…', '⋯',
		'，', ',', '、', '”', '’', '」', '』', '）', ')', '》', '〉', '】', ']', '"', '\'':
		return true
	}
	return false
}

// zhBracketOpen and zhBracketClose are the label brackets of
// bracket_boilerplate_frac.
func zhBracketOpen(r rune) bool {
	return r == '【' || r == '[' || r == '［' || r == '〔' || r == '〖'
}

func zhBracketClose(r rune) bool {
	return r == '】' || r == ']' || r == '］' || r == '〕' || r == '〗'
}

// zhComputer holds one worker's scratch memory; nothing it keeps grows
// with the number of documents, only with the largest one (and buffers
// over zhScratchKeep entries are given back after such a document).
type zhComputer struct {
	counts  []uint32 // per BMP code point, zero between documents
	touched []uint16 // BMP code points with a count, in order, to reset and for entropy (room for all)
	astral  map[rune]uint32
	visible []rune // the document's visible characters
	table   tuTable
}

// zhScratchKeep bounds the character buffer kept between documents.
const zhScratchKeep = 1 << 21

func newZhComputer() *zhComputer {
	zhClassInit()
	return &zhComputer{counts: make([]uint32, 0x10000), touched: make([]uint16, 0x10000+1), astral: map[rune]uint32{}}
}

// The 13-gram hash is a polynomial rolling hash over code points,
// h = Σ r[i+k]·B^(12−k) mod 2^64, updated in O(1) per character. It only
// finds candidates in the table: windows whose fingerprints match are
// compared character by character, so no collision can count a false
// duplicate.
const zhRollB uint64 = 0x9E3779B97F4A7C15 // odd

// zhRollBPow is B^13 mod 2^64, to take the oldest character out.
var zhRollBPow = func() uint64 {
	p := uint64(1)
	for range zhRepN {
		p *= zhRollB
	}
	return p
}()

// Compute implements Computer.
func (c *zhComputer) Compute(d *Doc, out []float64) {
	text := d.Text
	c.visible = c.visible[:0]
	var (
		visible, han, digit int
		distinctBMP         int // BMP characters in c.touched
		lines, moreLines    int
		bracketLines        int
		navLines            int
		lineStart           int // byte offset of the current line
		lineVis, lineIn     int // visible characters of the line, and those inside brackets
		depth               int
		lastVis             rune // the line's last visible character
	)
	endLine := func(end int) {
		if lineVis > 0 {
			lines++
			if lineVis < zhNavLineChars {
				if 2*lineIn >= lineVis {
					bracketLines++
				}
				if !zhLineEndPunct(lastVis) {
					navLines++
				}
			}
			if zhIsMoreLine(text[lineStart:end]) {
				moreLines++
			}
		}
		lineVis, lineIn, depth = 0, 0, 0
	}
	for i, size := 0, 0; i < len(text); i += size {
		r, ok := rune(text[i]), true
		if size = 1; r >= utf8.RuneSelf {
			if r, ok = tuRune3(text, i); ok {
				size = 3
			} else {
				r, size = utf8.DecodeRuneInString(text[i:])
			}
		}
		if r == '\n' {
			endLine(i)
			lineStart = i + 1
			continue
		}
		cl := zhClassOf(r)
		if cl&(zhcSpace|zhcControl) != 0 {
			continue
		}
		// Counted without branches (Han characters, punctuation and digits
		// alternate); a Han character is no digit.
		isHan := int(cl&zhcHan) / int(zhcHan)
		han += isHan
		digit += int(cl&zhcDigit) / int(zhcDigit) &^ isHan
		if depth > 0 {
			lineIn++
			if zhBracketClose(r) {
				depth--
			} else if zhBracketOpen(r) {
				depth++
			}
		} else if cl&zhcPunct != 0 && zhBracketOpen(r) {
			depth++
			lineIn++
		}
		if r < 0x10000 {
			// Noted in touched when first seen, without a branch: first
			// sightings come in no predictable order.
			n := c.counts[r]
			c.touched[distinctBMP] = uint16(r)
			distinctBMP += int(uint32(n-1) >> 31) // n == 0
			c.counts[r] = n + 1
		} else {
			c.astral[r]++
		}
		c.visible = append(c.visible, r)
		visible++
		lineVis++
		lastVis = r
	}
	endLine(len(text))

	// Character distribution: distinct count and entropy, then reset.
	distinct := distinctBMP + len(c.astral)
	var sumClogC float64
	for _, r := range c.touched[:distinctBMP] {
		n := c.counts[r]
		if n > 1 {
			sumClogC += float64(n) * math.Log2(float64(n))
		}
		c.counts[r] = 0
	}
	for _, n := range c.astral {
		if n > 1 {
			sumClogC += float64(n) * math.Log2(float64(n))
		}
	}
	clear(c.astral)

	if visible > 0 {
		n := float64(visible)
		out[zhSigHan] = float64(han) / n
		out[zhSigDigit] = float64(digit) / n
		out[zhSigUnique] = float64(distinct) / n
		// H = log2 N − (Σ c·log2 c) / N
		out[zhSigEntropy] = max(0, math.Log2(n)-sumClogC/n) // max: rounding for a one-character text
		out[zhSigMeanLine] = n / float64(lines)
		out[zhSigMoreLink] = float64(moreLines) / float64(lines)
		out[zhSigBracket] = float64(bracketLines) / float64(lines)
		out[zhSigNav] = float64(navLines) / float64(lines)
		out[zhSigRep13] = c.rep13(visible)
	}
	if cap(c.visible) > zhScratchKeep {
		c.visible = nil
	}
}

// rep13 is the duplicate 13-gram character fraction of the document
// whose visible characters are in c.visible: Gopher's walk
// (filters-reference §2) over 13-character windows.
func (c *zhComputer) rep13(n int) float64 {
	v := c.visible
	windows := len(v) - zhRepN + 1
	if windows <= 0 {
		return 0
	}
	c.table.reset(windows)
	var roll uint64
	for _, r := range v[:zhRepN-1] {
		roll = roll*zhRollB + uint64(r)
	}
	dup, next := 0, 0 // next: the walk's next window
	for i := range windows {
		roll = roll*zhRollB + uint64(v[i+zhRepN-1])
		if i > 0 {
			roll -= uint64(v[i-1]) * zhRollBPow
		}
		if i < next {
			continue
		}
		if c.seen(roll, i) {
			dup += zhRepN
			next = i + zhRepN
		} else {
			next = i + 1
		}
	}
	return float64(dup) / float64(n)
}

// seen reports whether the window at i, of hash h, equals one already in
// the table, adding it when none does.
func (c *zhComputer) seen(h uint64, i int) bool {
	t := &c.table
	s, fp := t.home(h)
	window := c.visible[i : i+zhRepN]
	for {
		var j int
		if s, j = t.probe(s, fp, i); j < 0 {
			return false
		}
		if slices.Equal(c.visible[j:j+zhRepN], window) {
			return true
		}
		s = t.next(s)
	}
}
