package filters

import (
	"strings"
	"unicode/utf8"
)

// TextStats is the text_stats family: language-agnostic counts and shares
// of a document, computed in one pass over its characters (plus a scan for
// "://" and "www." for URLs).
//
// Characters are code points (Python's len), white space included: the
// shares have the whole text as denominator, as data-juicer's
// alphanumeric and special-characters filters do, so their published
// thresholds mean the same here. Lines are the text split on "\n"; a line
// counts when it holds something other than white space (as length.go).
//
//   - chars: code points.
//   - words: len(Doc.Words) when the segment stage ran; else Unicode words:
//     maximal runs of letters, marks, numbers and "_", kept together across
//     one ' ’ or . between letters or one . , between digits (UAX #29's
//     MidLetter/MidNum, simplified), where every Han and kana character is
//     a word of its own (Chinese without segmentation: one word a
//     character).
//   - lines: non-blank lines.
//   - alnum_frac: letters and numbers (Unicode L*, N*; CJK ideographs are
//     letters, as in Python isalnum) / chars.
//   - special_char_frac: white space, punctuation (P*, CJK punctuation
//     included), symbols (S*, emoji included), decimal digits, control and
//     format characters / chars. data-juicer's SPECIAL_CHARACTERS idea, by
//     Unicode category instead of its list, so that the ideographs 一 上 士
//     and the katakana ー ン ッ ツ シ that its list holds are not special
//     (filters-reference §6, §10).
//   - url_frac: characters inside URLs / chars. A URL is scheme "://" or
//     "www." followed by ASCII URL characters (no space, no non-ASCII, none
//     of < > " ` { } | \ ^), trailing . , ; : ! ? ' ) ] cut off.
//   - symbol_frac: Unicode symbols (Sm Sc Sk So: ★ ▶ © ￥ + = emoji) /
//     chars. Gopher's "#" and "…" per word is the gopher_quality family's
//     rule; this one catches decorated and emoji-laden text in any script.
//   - longest_word: code points of the longest word (Doc.Words or the
//     Unicode words above).
//   - longest_line: code points of the longest line, without its "\r\n".
//
// The shares are NaN for an empty text; counts and lengths are 0.
var TextStats = &Family{
	Name: "text_stats",
	Doc:  "language-agnostic counts and shares: characters, words, lines, alphanumeric / special / URL / symbol shares, longest word and line",
	Signals: []Signal{
		{Name: "chars", Doc: "code points, white space included"},
		{Name: "words", Doc: "segment stage words when present, else Unicode words with each Han/kana character a word"},
		{Name: "lines", Doc: "non-blank lines (split on \\n)"},
		{Name: "alnum_frac", Doc: "letters and numbers (L*, N*) / chars"},
		{Name: "special_char_frac", Doc: "white space, punctuation, symbols, digits, control characters / chars (CJK ideographs and kana are not special)"},
		{Name: "url_frac", Doc: "characters inside URLs (scheme:// or www.) / chars"},
		{Name: "symbol_frac", Doc: "Unicode symbols (S*, emoji included) / chars"},
		{Name: "longest_word", Doc: "code points of the longest word"},
		{Name: "longest_line", Doc: "code points of the longest line"},
	},
	Rules: []Rule{
		{Key: "min_chars", Signal: "chars"},
		{Key: "max_chars", Signal: "chars"},
		{Key: "min_words", Signal: "words"},
		{Key: "max_words", Signal: "words"},
		{Key: "min_lines", Signal: "lines"},
		{Key: "max_lines", Signal: "lines"},
		{Key: "min_alnum_frac", Signal: "alnum_frac"},
		{Key: "max_alnum_frac", Signal: "alnum_frac"},
		{Key: "min_special_char_frac", Signal: "special_char_frac"},
		{Key: "max_special_char_frac", Signal: "special_char_frac"},
		{Key: "min_url_frac", Signal: "url_frac"},
		{Key: "max_url_frac", Signal: "url_frac"},
		{Key: "min_symbol_frac", Signal: "symbol_frac"},
		{Key: "max_symbol_frac", Signal: "symbol_frac"},
		{Key: "min_longest_word", Signal: "longest_word"},
		{Key: "max_longest_word", Signal: "longest_word"},
		{Key: "min_longest_line", Signal: "longest_line"},
		{Key: "max_longest_line", Signal: "longest_line"},
	},
	NewComputer: func() Computer { zhClassInit(); return &tsComputer{} },
	// Only rules that no clean text in any language should fail are on,
	// measured on the shared corpora (TestZhDropRates): zh-prose, zh-laws,
	// web/text-junk and text-clean (zh and en), the zh-sft sets. Counts
	// (chars, words, lines) are the length stage's and gopher_quality's
	// business and stay off, as do the symbol share (math and emoji-rich
	// instruction answers reach 0.13) and every min_ on a share but min_alnum_frac.
	Defaults: map[string]map[string]float64{
		"default": {
			// data-juicer's default. Lowest measured: prose 0.46, clean
			// en 0.46, zh-sft 0.27 (a table of numbers).
			"min_alnum_frac": 0.25,
			// White space counts (as in data-juicer), so Lu Xun's "　　"
			// indents raise it: prose p95 0.35, max 0.55; laws 0.36;
			// clean 0.39. data-juicer's 0.25 would drop 26 % of the
			// prose. Above 0.6: JSON and number lists, 15 of the 1 463
			// ShareGPT and DPO records.
			"max_special_char_frac": 0.6,
			// prose, laws 0; clean 0.04; drops the link-list page
			// zh-gne-shanxi-1 (0.66) and 5 ShareGPT and DPO answers that
			// are mostly citation URLs.
			"max_url_frac": 0.3,
			// Longest word measured: prose 56 (a Latin run), SFT 59,
			// web 42 — and 828 for the zalgo text of the forum page.
			// No language has 500-character words; base64 and hex
			// blobs, zalgo and minified code do.
			"max_longest_word": 500,
			// prose 1023, laws 686, clean 2641; drops the 174 217-
			// character SEO keyword line of zh-gne-njxfhn-1. data-juicer's
			// demo uses 10 000, which keeps one-line articles of up to
			// 10 000 characters; 20 000 leaves room for one-line SFT
			// answers and unwrapped web paragraphs.
			"max_longest_line": 20000,
		},
	},
}

// Signal slots of TextStats, in Signals order.
const (
	tsSigChars = iota
	tsSigWords
	tsSigLines
	tsSigAlnum
	tsSigSpecial
	tsSigURL
	tsSigSymbol
	tsSigLongestWord
	tsSigLongestLine
)

// tsComputer keeps no state: everything fits in locals.
type tsComputer struct{}

// Compute implements Computer.
// The shares a character counts in (alnum_frac, special_char_frac,
// symbol_frac).
const (
	tsShareAlnum   = 1 << iota // letters and numbers (L*, N*)
	tsShareSpecial             // digits, and what is neither alphanumeric nor a mark
	tsShareSymbol              // symbols (S*)
)

// tsClassMask keeps the class bits the shares depend on.
const tsClassMask = zhcSymbol<<1 - 1

// tsShares are the shares of each class (masked by tsClassMask).
var tsShares = func() (t [tsClassMask + 1]uint8) {
	for cl := range zhClass(len(t)) {
		switch {
		case cl&(zhcLetter|zhcNumber) != 0:
			t[cl] = tsShareAlnum
			if cl&zhcDigit != 0 {
				t[cl] |= tsShareSpecial
			}
		case cl&zhcMark != 0:
		default: // space, punctuation, symbol, control
			t[cl] = tsShareSpecial
			if cl&zhcSymbol != 0 {
				t[cl] |= tsShareSymbol
			}
		}
	}
	return t
}()

func (tsComputer) Compute(d *Doc, out []float64) {
	text := d.Text
	var (
		chars, alnum, special, symbol int
		lines, lineLen, longestLine   int
		lineBlank                     = true
		words, wordLen, longestWord   int
		// Word state: inWord, the class of the last word character, and a
		// pending middle character (' ’ . ,) that joins only if the next
		// character continues the word.
		inWord    bool
		lastDigit bool
		pending   rune
		ownWords  = d.Words == nil
	)
	for i, size := 0, 0; i < len(text); i += size {
		r, ok := rune(text[i]), true
		if size = 1; r >= utf8.RuneSelf {
			if r, ok = tuRune3(text, i); ok {
				size = 3
			} else {
				r, size = utf8.DecodeRuneInString(text[i:])
			}
		}
		chars++
		var cl zhClass
		if r < 0x80 {
			cl = zhClassTable[r]
		} else {
			cl = zhClassOf(r)
		}
		// Lines.
		if r == '\n' {
			if !lineBlank {
				lines++
			}
			if lineLen > longestLine {
				longestLine = lineLen
			}
			lineLen, lineBlank = 0, true
		} else if r != '\r' {
			lineLen++
			if cl&zhcSpace == 0 {
				lineBlank = false
			}
		}
		// Shares, without a branch: Chinese text alternates letters,
		// punctuation and digits too often for branches to be predicted.
		share := tsShares[cl&tsClassMask]
		alnum += int(share & tsShareAlnum)
		special += int(share&tsShareSpecial) >> 1
		symbol += int(share&tsShareSymbol) >> 2
		if !ownWords {
			continue
		}
		// Words.
		wordChar := cl&(zhcLetter|zhcMark|zhcNumber) != 0 || r == '_'
		switch {
		case cl&(zhcHan|zhcKana) != 0 && cl&(zhcLetter|zhcNumber) != 0:
			if inWord {
				words++
				longestWord = max(longestWord, wordLen)
			}
			words++
			longestWord = max(longestWord, 1)
			inWord, pending = false, 0
		case wordChar:
			isDigit := cl&zhcDigit != 0
			if inWord && pending != 0 {
				joins := pending == ',' && lastDigit && isDigit ||
					pending == '.' && lastDigit == isDigit ||
					(pending == '\'' || pending == '’') && !lastDigit && !isDigit
				if joins {
					wordLen += 2
				} else {
					words++
					longestWord = max(longestWord, wordLen)
					wordLen = 1
				}
			} else if inWord {
				wordLen++
			} else {
				inWord, wordLen = true, 1
			}
			lastDigit, pending = isDigit, 0
		case inWord && pending == 0 && (r == '\'' || r == '’' || r == '.' || r == ','):
			pending = r
		default:
			if inWord {
				words++
				longestWord = max(longestWord, wordLen)
				inWord = false
			}
			pending = 0
		}
	}
	if !lineBlank {
		lines++
	}
	longestLine = max(longestLine, lineLen)
	if ownWords && inWord {
		words++
		longestWord = max(longestWord, wordLen)
	}
	if !ownWords {
		words = len(d.Words)
		for _, w := range d.Words {
			if len(w) > longestWord { // bytes ≥ code points: count only candidates
				longestWord = max(longestWord, utf8.RuneCountInString(w))
			}
		}
	}
	out[tsSigChars] = float64(chars)
	out[tsSigWords] = float64(words)
	out[tsSigLines] = float64(lines)
	out[tsSigLongestWord] = float64(longestWord)
	out[tsSigLongestLine] = float64(longestLine)
	if chars == 0 {
		return // shares NaN
	}
	n := float64(chars)
	out[tsSigAlnum] = float64(alnum) / n
	out[tsSigSpecial] = float64(special) / n
	out[tsSigSymbol] = float64(symbol) / n
	out[tsSigURL] = float64(tsURLChars(text)) / n
}

// tsURLChar reports whether c may sit inside a URL (RFC 3986 characters
// plus %; no space, no non-ASCII, none of < > " ` { } | \ ^).
func tsURLChar(c byte) bool {
	switch c {
	case '<', '>', '"', '`', '{', '}', '|', '\\', '^':
		return false
	}
	return c > ' ' && c < 0x7f
}

// tsURLTrail are cut off the end of a URL: the punctuation of the sentence
// around it.
const tsURLTrail = ".,;:!?')]"

// tsSchemeChar: letters, digits, + - . (RFC 3986 scheme characters).
func tsSchemeChar(c byte) bool {
	return tsIsAlpha(c) || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

func tsIsAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// tsURLChars counts the characters of text inside URLs (all ASCII, so
// bytes are characters). A URL starts at a scheme (a letter, then scheme
// characters) followed by "://" and a URL character, or at "www." that
// does not continue a word; it runs over URL characters, less trailing
// sentence punctuation. Linear: each search starts where the last ended.
func tsURLChars(text string) int {
	total := 0
	end := 0               // text before end is counted or skipped
	nextJ, nextK := -2, -2 // next "://" and "www." at or after end; -1 none, -2 unknown
	find := func(pat string, from int) int {
		if k := strings.Index(text[from:], pat); k >= 0 {
			return from + k
		}
		return -1
	}
	for {
		if nextJ != -1 && nextJ < end {
			nextJ = find("://", end)
		}
		if nextK != -1 && nextK < end {
			nextK = find("www.", end)
		}
		var start, p int
		switch {
		case nextJ < 0 && nextK < 0:
			return total
		case nextJ >= 0 && (nextK < 0 || nextJ <= nextK):
			p = nextJ
			start = p
			for start > end && tsSchemeChar(text[start-1]) {
				start--
			}
			for start < p && !tsIsAlpha(text[start]) {
				start++
			}
			if start == p || p+3 >= len(text) || !tsURLChar(text[p+3]) {
				end = p + 3
				continue
			}
		default:
			p = nextK
			if p > 0 && tsURLChar(text[p-1]) && text[p-1] != '(' && text[p-1] != '[' && text[p-1] != '\'' {
				end = p + 4 // inside a word: "awww.", "xwww."
				continue
			}
			start = p
		}
		e := p
		for e < len(text) && tsURLChar(text[e]) {
			e++
		}
		for e > start && strings.IndexByte(tsURLTrail, text[e-1]) >= 0 {
			e--
		}
		total += max(0, e-start)
		end = max(e, p+3)
	}
}
