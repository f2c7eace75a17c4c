package filters

import (
	"strings"
	"unicode/utf8"
)

// FineWeb is the fineweb family: datatrove's FineWebQualityFilter, the
// line-level rules FineWeb added after Gopher and C4 (filters-reference §4),
// with FineWeb-2's cmn_Hani thresholds for Chinese (§5).
//
// Lines are the text split on "\n" with blank lines (Python strip() == "")
// left out; every signal but new_line_ratio is NaN without such a line
// (datatrove drops those documents as "empty"; the length stage does here).
//
//   - line_punct_ratio: lines that end a sentence / lines. A line ends a
//     sentence when, after trailing white space and closing quotes or
//     brackets (” ’ 」 』 ） 》 " ' ) ] …), its last character is a
//     sentence end (Unicode Sentence_Terminal: . ! ? 。 ！ ？ ． ｡ …, the
//     set datatrove's TERMINAL_PUNCTUATION comes from) or an ellipsis (…).
//     Deviations from datatrove, which tests line.endswith(stop_chars) on the
//     raw line: trailing white space (a "\r" of CRLF text, a U+3000) does
//     not hide the end; “……。” and 「……。」 count, as FineWeb's English
//     release counted lines ending in " and '; a line ending in … counts,
//     as one ending in "..." does. These only raise the ratio, so the
//     published minimums drop fewer documents, never more.
//   - short_line_ratio: lines of at most 30 characters / lines.
//   - char_duplicates_ratio: characters in duplicate lines (a line equal to
//     an earlier one; first occurrences never count) / characters of the
//     text without its "\n" (NaN when that is 0).
//   - new_line_ratio: "\n" in the text / tokens (the token stream of
//     gopher_quality: words plus punctuation tokens; NaN without tokens).
//     High for list-like documents.
//
// Rules drop on strict comparisons (ratio < min, ratio > max), as
// datatrove does since the FineWeb-2 release (commit 84277597; FineWeb's
// English release dropped on ≤ and ≥).
//
// Thresholds: default = datatrove's FineWebQualityFilter defaults (the
// FineWeb release); zh = FineWeb-2 cmn_Hani (line_punct_thr 0.106,
// char_duplicates_ratio 0.1, new_line_ratio 0.178), except the short-line
// rule, which FineWeb-2 switches off (short_line_thr 999) and zh sets to
// 0.8 from a measurement (see Defaults).
var FineWeb = &Family{
	Name: "fineweb",
	Doc:  "FineWeb quality filter (datatrove FineWebQualityFilter; FineWeb-2 cmn_Hani thresholds for zh): lines ending in punctuation, short lines, duplicate-line characters, newlines per word",
	Signals: []Signal{
		{Name: "line_punct_ratio", Doc: "share of non-blank lines ending a sentence (. ! ? 。 ！ ？ … possibly followed by closing quotes/brackets)"},
		{Name: "short_line_ratio", Doc: "share of non-blank lines with at most 30 characters"},
		{Name: "char_duplicates_ratio", Doc: "characters in duplicate non-blank lines / characters without newlines"},
		{Name: "new_line_ratio", Doc: "newlines per token (list-like documents score high)"},
	},
	Rules: []Rule{
		{Key: "min_line_punct_ratio", Signal: "line_punct_ratio"},
		{Key: "max_short_line_ratio", Signal: "short_line_ratio"},
		{Key: "max_char_duplicates_ratio", Signal: "char_duplicates_ratio"},
		{Key: "max_new_line_ratio", Signal: "new_line_ratio"},
	},
	NewComputer: func() Computer { return &fwComputer{} },
	Defaults: map[string]map[string]float64{
		"default": {
			"min_line_punct_ratio":      0.12,
			"max_short_line_ratio":      0.67,
			"max_char_duplicates_ratio": 0.01,
			"max_new_line_ratio":        0.3,
		},
		"zh": {
			"min_line_punct_ratio": 0.106,
			// FW2 switches this rule off (999). A 30-character Chinese line
			// is a full sentence, so the English 0.67 drops 10 of 295 zh-prose
			// works (3.4 %; poems, hard-wrapped dialogue) and 4 laws, while
			// 0.8 drops 6 works (2 %), no law, and 83 of 123 zh text-junk
			// pages (67 %: menus are lines of a few characters), among them
			// the tieba list page that no other zh rule of this family drops
			// (TestFamilyDropRates).
			"max_short_line_ratio":      0.8,
			"max_char_duplicates_ratio": 0.1,
			"max_new_line_ratio":        0.178,
		},
	},
}

// fwShortLine is datatrove's short_line_length: a line of at most this many
// characters is short.
const fwShortLine = 30

const (
	fwLinePunct = iota
	fwShortLines
	fwCharDup
	fwNewLine
)

type fwComputer struct {
	toks  tuTokens
	lines []tuSpan
	set   tuTable
}

func (c *fwComputer) Compute(d *Doc, out []float64) {
	text := d.Text
	c.lines = tuSplitNewline(c.lines[:0], text)
	kept := c.lines[:0]
	var punct, short int
	for _, l := range c.lines {
		line := text[l.start:l.end]
		if tuIsBlank(line) {
			continue
		}
		kept = append(kept, l)
		if tuEndsSentence(line) {
			punct++
		}
		if fwIsShort(line) {
			short++
		}
	}
	c.lines = kept
	out[fwLinePunct] = tuRatio(punct, len(kept))
	out[fwShortLines] = tuRatio(short, len(kept))
	newlines := strings.Count(text, "\n")
	if len(kept) > 0 {
		_, dupRunes := tuDuplicates(&c.set, text, kept)
		out[fwCharDup] = tuRatio(dupRunes, tuRuneCount(text)-newlines)
	}
	out[fwNewLine] = tuRatio(newlines, c.toks.sharedStats(d).tokens)
}

// fwIsShort reports whether line has at most fwShortLine characters.
func fwIsShort(line string) bool {
	if len(line) <= fwShortLine {
		return true
	}
	if len(line) > utf8.UTFMax*fwShortLine {
		return false
	}
	return tuRuneCount(line) <= fwShortLine
}
