package filters

// Shared text helpers of the gopher_quality, gopher_repetition, c4 and
// fineweb families: character classes, Python-compatible white space and
// line splitting, the token stream those families count over, and
// allocation-free hash tables. Everything works on byte offsets into the
// document text and keeps its working memory in scratch structs that a
// Computer reuses, never in per-document maps.

import (
	"hash/maphash"
	"math"
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf8"

	"winnow/pipeline"
)

// tuSpan is a byte range [start, end) of a document.
type tuSpan struct{ start, end int32 }

// Character classes, one byte per character: a table for the BMP (64 KiB,
// built at init), the unicode package above it.
const (
	tuCSpace   = 1 << iota // Python isspace: Unicode White_Space plus U+001C–U+001F
	tuCLetter              // Unicode L (Python isalpha)
	tuCNumber              // Unicode N
	tuCMark                // Unicode M
	tuCCJK                 // Han, Hiragana, Katakana: a word by itself in the fallback tokenizer
	tuCDTPunct             // in datatrove's PUNCTUATION_SET
	tuCSentEnd             // Unicode Sentence_Terminal
	tuCCloser              // closing quote or bracket (tuIsCloser)
)

// tuBMP holds the classes of the BMP, built from the unicode range tables
// (well under a millisecond); TestTuClassTable checks it against
// tuClassSlow.
var tuBMP = func() *[1 << 16]uint8 {
	var t [1 << 16]uint8
	set := func(tab *unicode.RangeTable, bit uint8) {
		for _, rg := range tab.R16 {
			for c := int(rg.Lo); c <= int(rg.Hi); c += int(rg.Stride) {
				t[c] |= bit
			}
		}
	}
	set(unicode.White_Space, tuCSpace)
	for c := 0x1c; c <= 0x1f; c++ {
		t[c] |= tuCSpace
	}
	set(unicode.L, tuCLetter)
	set(unicode.N, tuCNumber)
	set(unicode.M, tuCMark)
	set(unicode.Han, tuCCJK)
	set(unicode.Hiragana, tuCCJK)
	set(unicode.Katakana, tuCCJK)
	set(unicode.Sentence_Terminal, tuCSentEnd|tuCDTPunct)
	for c := range 0xa0 {
		if c < 0x20 && c != '\t' && c != '\n' || c >= 0x7f {
			t[c] |= tuCDTPunct
		}
	}
	for _, r := range tuDTPunctuation {
		t[r] |= tuCDTPunct
	}
	for _, r := range tuClosers {
		t[r] |= tuCCloser
	}
	return &t
}()

// tuClass returns the class bits of r.
func tuClass(r rune) uint8 {
	if uint32(r) < 1<<16 {
		return tuBMP[r]
	}
	return tuClassSlow(r)
}

func tuClassSlow(r rune) uint8 {
	var c uint8
	if unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f {
		c |= tuCSpace
	}
	switch {
	case unicode.IsLetter(r):
		c |= tuCLetter
	case unicode.IsNumber(r):
		c |= tuCNumber
	case unicode.IsMark(r):
		c |= tuCMark
	}
	if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) {
		c |= tuCCJK
	}
	if r < 0x20 && r != '\t' && r != '\n' || r >= 0x7f && r <= 0x9f || strings.ContainsRune(tuDTPunctuation, r) {
		c |= tuCDTPunct
	}
	if unicode.Is(unicode.Sentence_Terminal, r) {
		c |= tuCSentEnd | tuCDTPunct // PUNCTUATION_SET includes TERMINAL_PUNCTUATION
	}
	if strings.ContainsRune(tuClosers, r) {
		c |= tuCCloser
	}
	return c
}

// tuDTPunctuation holds the visible characters of datatrove's PUNCTUATION
// (DT/utils/text.py); PUNCTUATION also holds the control characters
// U+0000–0008, 000B–001F and 007F–009F, and PUNCTUATION_SET adds
// TERMINAL_PUNCTUATION (here Sentence_Terminal). Note the full-width digit
// １, and that · 『 』 〔 〕 are not in it.
const tuDTPunctuation = "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"

// tuClosers are the closing quotes and brackets that may follow the end of
// a sentence: 。” ！」 .) ?" — in Chinese the quote or bracket comes after
// the full stop, so a line-end check must look through it.
const tuClosers = "\"')]}»›”’」』）］｝】》〉〕〗〙〛﹂﹄＂＇"

// tuIsSpace is Python's str.isspace for one character: Unicode White_Space
// (unicode.IsSpace, U+3000 and U+00A0 included) plus U+001C–U+001F.
func tuIsSpace(r rune) bool { return tuClass(r)&tuCSpace != 0 }

// tuIsSentenceEnd reports whether r ends a sentence: the Unicode
// Sentence_Terminal property (. ! ? 。 ！ ？ ． ｡ ‼ ⁇ and the full stops of
// other scripts: 154 code points in Go's Unicode 15 tables). This is the set
// datatrove's TERMINAL_PUNCTUATION (159 code points) was drawn from; like
// it, it holds no quote, no bracket and no ellipsis.
func tuIsSentenceEnd(r rune) bool { return tuClass(r)&tuCSentEnd != 0 }

// tuIsCloser reports whether r is in tuClosers.
func tuIsCloser(r rune) bool { return tuClass(r)&tuCCloser != 0 }

// tuIsCJKRune reports whether r is a Han, Hiragana or Katakana character:
// the scripts written without spaces, where the fallback tokenizer makes
// every character a word and the c4 family counts words by tokens rather
// than by white space.
func tuIsCJKRune(r rune) bool { return tuClass(r)&tuCCJK != 0 }

// tuIsDTPunct reports whether r is in datatrove's PUNCTUATION_SET. Gopher's
// "non-symbol words" are the tokens with a character outside it.
func tuIsDTPunct(r rune) bool { return tuClass(r)&tuCDTPunct != 0 }

// tuDecode decodes the character at s[i] (which must be in range), with
// fast paths for ASCII and for the three-byte sequences of CJK text.
func tuDecode(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return tuDecodeMulti(s, i)
}

// tuRune3 decodes the three-byte sequence at s[i], if there is a valid
// one: nearly every CJK character. Small enough to be inlined, so that
// loops over CJK text make no call per character.
func tuRune3(s string, i int) (rune, bool) {
	if i+2 >= len(s) {
		return 0, false
	}
	x := uint32(s[i])<<16 | uint32(s[i+1])<<8 | uint32(s[i+2])
	r := x>>4&0xf000 | x>>2&0xfc0 | x&0x3f
	return rune(r), x&0xf0c0c0 == 0xe08080 && r >= 0x800 && r-0xd800 >= 0x800
}

func tuDecodeMulti(s string, i int) (rune, int) {
	if r, ok := tuRune3(s, i); ok {
		return r, 3
	}
	return utf8.DecodeRuneInString(s[i:])
}

// tuWordRune decodes the character at s[i] (which must be in range) of a
// segment-stage word ending at len(s). Three-byte sequences, nearly all of
// CJK text, are taken as they are, unchecked: in valid UTF-8 they are
// characters. The characters of fallback tokens decode alike (there an
// invalid byte is a token of its own), so this is how every token's
// characters read.
func tuWordRune(s string, i int) (rune, int) {
	if c := s[i]; c&0xf0 == 0xe0 && i+2 < len(s) && s[i+1]&0xc0 == 0x80 && s[i+2]&0xc0 == 0x80 {
		return rune(c&0x0f)<<12 | rune(s[i+1]&0x3f)<<6 | rune(s[i+2]&0x3f), 3
	}
	return utf8.DecodeRuneInString(s[i:])
}

// tuInvalidRune reports whether tuWordRune's (r, size) came from invalid
// UTF-8: a bad byte, or a surrogate or overlong three-byte sequence.
func tuInvalidRune(r rune, size int) bool {
	return r == utf8.RuneError && size == 1 || size == 3 && (r < 0x800 || r >= 0xd800 && r <= 0xdfff)
}

// tuTrim is Python's str.strip(); tuTrimLeft/Right are lstrip()/rstrip().
func tuTrim(s string) string { return tuTrimRight(tuTrimLeft(s)) }

func tuTrimLeft(s string) string {
	for len(s) > 0 {
		r, n := tuDecode(s, 0)
		if !tuIsSpace(r) {
			break
		}
		s = s[n:]
	}
	return s
}

func tuTrimRight(s string) string {
	for len(s) > 0 {
		r, n := rune(s[len(s)-1]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeLastRuneInString(s)
		}
		if !tuIsSpace(r) {
			break
		}
		s = s[:len(s)-n]
	}
	return s
}

// tuLineBreakByte marks the bytes that may start a splitlines() break.
var tuLineBreakByte = [256]bool{'\n': true, '\v': true, '\f': true, '\r': true, 0x1c: true, 0x1d: true, 0x1e: true,
	0xc2: true /* U+0085 */, 0xe2: true /* U+2028, U+2029 */}

// tuSplitLines appends the lines of Python's text.splitlines() (without
// their line breaks) to dst. Breaks: \n, \r, \r\n, \v, \f, \x1c, \x1d,
// \x1e, U+0085, U+2028, U+2029; a final break does not start an empty line,
// and "" has no lines.
func tuSplitLines(dst []tuSpan, text string) []tuSpan {
	if !tuHasRareBreak(text) {
		if text == "" {
			return dst
		}
		dst = tuSplitNewline(dst, text)
		if text[len(text)-1] == '\n' {
			dst = dst[:len(dst)-1]
		}
		return dst
	}
	start := 0
	for i := 0; i < len(text); {
		if !tuLineBreakByte[text[i]] {
			i++
			continue
		}
		brk := 1 // length of the line break at i, 0 if none
		switch text[i] {
		case '\r':
			if i+1 < len(text) && text[i+1] == '\n' {
				brk = 2
			}
		case 0xc2:
			brk = 0
			if i+1 < len(text) && text[i+1] == 0x85 {
				brk = 2
			}
		case 0xe2:
			brk = 0
			if i+2 < len(text) && text[i+1] == 0x80 && (text[i+2] == 0xa8 || text[i+2] == 0xa9) {
				brk = 3
			}
		}
		if brk == 0 {
			i++
			continue
		}
		dst = append(dst, tuSpan{int32(start), int32(i)})
		i += brk
		start = i
	}
	if start < len(text) {
		dst = append(dst, tuSpan{int32(start), int32(len(text))})
	}
	return dst
}

// tuHasRareBreak reports whether text holds a splitlines() break other
// than "\n" (a few vectorised scans; most text has none).
func tuHasRareBreak(text string) bool {
	for _, b := range [...]byte{'\r', '\v', '\f', 0x1c, 0x1d, 0x1e} {
		if strings.IndexByte(text, b) >= 0 {
			return true
		}
	}
	return strings.Contains(text, "\u0085") || strings.Contains(text, "\u2028") || strings.Contains(text, "\u2029")
}

// tuSplitNewline appends the parts of Python's text.split("\n") to dst:
// n+1 parts for n newlines, empty ones included.
func tuSplitNewline(dst []tuSpan, text string) []tuSpan {
	start := 0
	for {
		i := strings.IndexByte(text[start:], '\n')
		if i < 0 {
			return append(dst, tuSpan{int32(start), int32(len(text))})
		}
		dst = append(dst, tuSpan{int32(start), int32(start + i)})
		start += i + 1
	}
}

// tuSplitNewlineRuns appends the parts of re.split("\n+", text) (lines,
// min 1) or of re.split("\n{2,}", text) (paragraphs, min 2) to dst: runs of
// at least min newlines separate parts; a leading or trailing run yields an
// empty part, as re.split does.
func tuSplitNewlineRuns(dst []tuSpan, text string, min int) []tuSpan {
	start, i := 0, 0
	for {
		k := strings.IndexByte(text[i:], '\n')
		if k < 0 {
			return append(dst, tuSpan{int32(start), int32(len(text))})
		}
		i += k
		j := i + 1
		for j < len(text) && text[j] == '\n' {
			j++
		}
		if j-i >= min {
			dst = append(dst, tuSpan{int32(start), int32(i)})
			start = j
		}
		i = j
	}
}

// tuIsBlank reports whether Python's s.strip() == "".
func tuIsBlank(s string) bool {
	for i := 0; i < len(s); {
		r, n := tuDecode(s, i)
		if !tuIsSpace(r) {
			return false
		}
		i += n
	}
	return true
}

// tuTrimClosers removes trailing closing quotes and brackets (tuClosers).
func tuTrimClosers(s string) string {
	for len(s) > 0 {
		r, n := utf8.DecodeLastRuneInString(s)
		if !tuIsCloser(r) {
			return s
		}
		s = s[:len(s)-n]
	}
	return s
}

// tuEndsSentence reports whether a line, after trailing white space and
// closing quotes and brackets (tuClosers), ends with a sentence end
// (tuIsSentenceEnd) or an ellipsis (…; "..." ends with '.'). It is the
// CJK-aware line-end test of the fineweb family: 他说：“走吧。” and
// 「好。」 end sentences although datatrove's set lacks ” and 」.
func tuEndsSentence(line string) bool {
	s := tuTrimClosers(tuTrimRight(line))
	if s == "" {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s)
	return tuIsSentenceEnd(r) || r == '…'
}

// Token flags.
const (
	tokWord      = 1 << iota // holds a letter or a number; else a punctuation token
	tokAlpha                 // holds a letter (Python isalpha)
	tokNonSymbol             // holds a character outside datatrove's PUNCTUATION_SET
)

// tuFlags are the token flags of one character's class.
func tuFlags(c uint8) uint8 {
	var f uint8
	if c&(tuCLetter|tuCNumber) != 0 {
		f |= tokWord
	}
	if c&tuCLetter != 0 {
		f |= tokAlpha
	}
	if c&tuCDTPunct == 0 {
		f |= tokNonSymbol
	}
	return f
}

// tuToken is one token of a document: a byte range, its length in
// characters, its flags, and a polynomial hash of its characters,
// h = Σ (r_j + 1)·B^j mod 2^64 (B = tuHashBase), from which the hash of a
// concatenation of tokens follows (gopher_repetition's n-gram keys).
type tuToken struct {
	start, end int32
	runes      int32
	flags      uint8
	h          uint64
}

// push appends the character r of class c to the token.
func (k *tuToken) push(r rune, c uint8) {
	k.h += uint64(r+1) * tuPow(k.runes)
	k.runes++
	k.flags |= tuFlags(c)
}

// tuHashBase is the odd base of the token hashes (odd: it has an inverse
// mod 2^64).
const tuHashBase uint64 = 0x9e3779b97f4a7c15

var (
	tuHashBaseInv          = tuInverse(tuHashBase)
	tuHashPow, tuHashInvPw = tuPowers(tuHashBase, tuHashBaseInv)
)

// tuInverse is the inverse of an odd x mod 2^64 (Newton's iteration).
func tuInverse(x uint64) uint64 {
	inv := x // correct to 3 bits
	for range 6 {
		inv *= 2 - x*inv
	}
	return inv
}

func tuPowers(b, inv uint64) (pow, invPow [64]uint64) {
	pow[0], invPow[0] = 1, 1
	for i := 1; i < 64; i++ {
		pow[i] = pow[i-1] * b
		invPow[i] = invPow[i-1] * inv
	}
	return pow, invPow
}

// tuPow is tuHashBase^n, tuInvPow its inverse.
func tuPow(n int32) uint64 {
	if uint32(n) < 64 {
		return tuHashPow[n]
	}
	return tuPowSlow(n)
}

func tuPowSlow(n int32) uint64 {
	p := tuHashPow[63]
	for n -= 63; n > 0; n-- {
		p *= tuHashBase
	}
	return p
}

func tuInvPow(n int32) uint64 {
	if uint32(n) < 64 {
		return tuHashInvPw[n]
	}
	return tuInvPowSlow(n)
}

func tuInvPowSlow(n int32) uint64 {
	p := tuHashInvPw[63]
	for n -= 63; n > 0; n-- {
		p *= tuHashBaseInv
	}
	return p
}

// tuTokens is a document's token stream: what datatrove's word tokenizers
// return (with white-space tokens removed), in text order. Punctuation is
// part of it: spaCy and jieba both emit every punctuation mark as a token,
// and the published thresholds (Gopher's alpha-word ratio, FineWeb's
// newlines per word, the n-gram fractions) were set on such streams.
//
// With Doc.Words (the segment stage: jieba for Chinese, UAX #29 elsewhere;
// words only) the words are the word tokens, and the text between them is
// tokenized by the fallback below, which adds the punctuation back: one
// token per mark, as jieba yields them. Without Doc.Words, or when they are
// not substrings of the text in order, the whole text goes through the
// fallback tokenizer:
//
//   - white space (Python isspace) separates tokens and is never one;
//   - every Han, Hiragana and Katakana character is a word of its own;
//   - other letters, digits and combining marks form words; inside a word an
//     apostrophe before a letter starts a new word (don + 't, as spaCy's
//     do + n't gives two), and '.' or ',' between digits stays (3.14, 1,000);
//   - every other character (punctuation, symbols, emoji, format characters)
//     is a token of its own, except that a run of '.' is one token ("...").
type tuTokens struct {
	toks []tuToken
	// invalid: a token character was decoded from invalid UTF-8, so equal
	// characters need not be equal bytes (see tuWordRune).
	invalid bool
}

// tuKeepTokens bounds the token scratch a Computer keeps between documents.
const tuKeepTokens = 1 << 20

// build tokenizes d.Text (see tuTokens) into t.toks.
func (t *tuTokens) build(d *Doc) {
	t.toks, t.invalid = t.toks[:0], false
	if len(d.Words) == 0 || !t.fromDocWords(d.Text, d.Words) {
		t.toks, t.invalid = t.toks[:0], false
		t.fallback(d.Text, 0, len(d.Text))
	}
}

// release drops scratch memory a huge document left behind.
func (t *tuTokens) release() {
	if cap(t.toks) > tuKeepTokens {
		t.toks = nil
	}
}

func (t *tuTokens) add(tok tuToken) { t.toks = append(t.toks, tok) }

// tuStreamStats are what gopher_quality and fineweb need of a document's
// token stream. The families of one stage chain share them (tuShared)
// rather than the streams: a stream per document would be tens of MB per
// batch to allocate and collect, while gopher_repetition, which needs
// whole streams, tokenizes into its own reused scratch.
type tuStreamStats struct {
	tokens         int    // |W|
	nonSymbol      int    // tokens with a character outside datatrove's PUNCTUATION_SET
	nonSymbolRunes int    // their characters
	alpha          int    // tokens with a letter
	stopWords      uint32 // bit i: stop word i of the document's language occurs
}

// stats computes the statistics of the stream in t.toks for d.
func (t *tuTokens) stats(d *Doc) tuStreamStats {
	st := tuStreamStats{tokens: len(t.toks)}
	stop := gopherStopWords(d.Lang)
	for _, tok := range t.toks {
		// Counted without branches: word and punctuation tokens alternate.
		nonSymbol := int(tok.flags&tokNonSymbol) / tokNonSymbol // 0 or 1
		st.nonSymbol += nonSymbol
		st.nonSymbolRunes += nonSymbol * int(tok.runes)
		st.alpha += int(tok.flags&tokAlpha) / tokAlpha
		if tok.end-tok.start <= 7 && stop.mayHold(tok.h) {
			if i := stop.index(d.Text[tok.start:tok.end]); i >= 0 {
				st.stopWords |= 1 << i
			}
		}
	}
	return st
}

// sharedStats returns the statistics of d's stream: those another family
// of the chain published, or ones computed from a stream built into t.
func (t *tuTokens) sharedStats(d *Doc) tuStreamStats {
	if s := d.shared; s != nil && s.built[d.row] {
		return s.rows[d.row]
	}
	t.build(d)
	defer t.release()
	return t.publish(d)
}

// publish computes the statistics of the stream in t.toks for d and
// shares them with the rest of the chain.
func (t *tuTokens) publish(d *Doc) tuStreamStats {
	s := d.shared
	if s != nil && s.built[d.row] {
		return s.rows[d.row]
	}
	st := t.stats(d)
	if s != nil {
		s.rows[d.row], s.built[d.row] = st, true
	}
	return st
}

// tuShared is a batch's token stream statistics, kept in the batch's
// scratch so that the families of one stage chain tokenize each document
// once (when gopher_repetition, which tokenizes anyway, comes first).
type tuShared struct {
	rows  []tuStreamStats
	built []bool
}

type tuSharedKey struct{}

// sharedStreamStats returns the batch's shared statistics, creating them.
func sharedStreamStats(b *pipeline.Batch) *tuShared {
	if s, ok := b.Scratch(tuSharedKey{}).(*tuShared); ok && len(s.rows) == b.Len() {
		return s
	}
	s := &tuShared{rows: make([]tuStreamStats, b.Len()), built: make([]bool, b.Len())}
	b.SetScratch(tuSharedKey{}, s)
	return s
}

// tuMaxGap is how far fromDocWords walks the text between two words before
// it searches for the next word with strings.Index.
const tuMaxGap = 64

// fromDocWords maps words onto text; false if one is not found in order.
func (t *tuTokens) fromDocWords(text string, words []string) bool {
	pos := 0
	for _, w := range words {
		if w == "" {
			continue
		}
		start := pos
		for len(text)-start < len(w) || text[start] != w[0] || text[start:start+len(w)] != w {
			if start-pos >= tuMaxGap || start >= len(text) {
				i := strings.Index(text[start:], w)
				if i < 0 {
					return false
				}
				start += i
				break
			}
			_, n := tuDecode(text, start)
			start += n
		}
		if start > pos {
			t.fallback(text, pos, start)
		}
		end := start + len(w)
		tok := tuToken{start: int32(start), end: int32(end)}
		var or, notPunct uint8
		for j := start; j < end; {
			var r rune
			if b := text[j]; b < utf8.RuneSelf {
				r = rune(b)
				j++
			} else if b&0xf0 == 0xe0 && j+2 < end && text[j+1]&0xc0 == 0x80 && text[j+2]&0xc0 == 0x80 {
				// tuWordRune, inlined for the three-byte case (CJK).
				r = rune(b&0x0f)<<12 | rune(text[j+1]&0x3f)<<6 | rune(text[j+2]&0x3f)
				j += 3
				t.invalid = t.invalid || tuInvalidRune(r, 3)
			} else {
				var n int
				r, n = utf8.DecodeRuneInString(text[j:end])
				j += n
				t.invalid = t.invalid || tuInvalidRune(r, n)
			}
			c := tuClass(r)
			or |= c
			notPunct |= ^c
			tok.h += uint64(r+1) * tuPow(tok.runes)
			tok.runes++
		}
		tok.flags = tuFlags(or) & (tokWord | tokAlpha)
		if notPunct&tuCDTPunct != 0 {
			tok.flags |= tokNonSymbol
		}
		t.toks = append(t.toks, tok)
		pos = end
	}
	if pos < len(text) {
		t.fallback(text, pos, len(text))
	}
	return true
}

// fallback adds the tokens of text[from:to] (see tuTokens).
func (t *tuTokens) fallback(text string, from, to int) {
	var cur tuToken // the word being built while inWord
	inWord := false
	prev := uint8(0) // class of the previous character of the word
	for i := from; i < to; {
		r, size := tuDecode(text[:to], i)
		if r == utf8.RuneError && size == 1 {
			t.invalid = true
		}
		c := tuClass(r)
		switch {
		case c&tuCSpace != 0:
			if inWord {
				t.add(cur)
				inWord = false
			}
		case c&tuCCJK != 0:
			if inWord {
				t.add(cur)
				inWord = false
			}
			t.add(tuToken{start: int32(i), end: int32(i + size), runes: 1, flags: tuFlags(c), h: uint64(r + 1)})
		case c&(tuCLetter|tuCNumber|tuCMark) != 0:
			if !inWord {
				cur = tuToken{start: int32(i)}
				inWord = true
			}
			cur.end = int32(i + size)
			cur.push(r, c)
			prev = c
		default:
			if inWord && i+size < to {
				next, nsize := tuDecode(text[:to], i+size)
				nc := tuClass(next)
				switch {
				case (r == '.' || r == ',') && prev&tuCNumber != 0 && nc&tuCNumber != 0:
					// 3.14, 1,000: the separator stays in the number.
					cur.end = int32(i + size + nsize)
					cur.push(r, c)
					cur.push(next, nc)
					i += size + nsize
					continue
				case (r == '\'' || r == '’') && prev&tuCLetter != 0 && nc&tuCLetter != 0:
					// don't: "don", then "'t".
					t.add(cur)
					cur = tuToken{start: int32(i), end: int32(i + size), runes: 1, flags: tuFlags(c), h: uint64(r + 1)}
					i += size
					continue
				}
			}
			if inWord {
				t.add(cur)
				inWord = false
			}
			tok := tuToken{start: int32(i), end: int32(i + size)}
			tok.push(r, c)
			if r == '.' {
				for int(tok.end) < to && text[tok.end] == '.' {
					tok.end++
					tok.push('.', c)
				}
			}
			t.add(tok)
			i = int(tok.end)
			continue
		}
		i += size
	}
	if inWord {
		t.add(cur)
	}
}

// tuCharCount is utf8.RuneCountInString (an invalid byte is one
// character), reading three-byte sequences inline.
func tuCharCount(s string) int {
	n := 0
	for i := 0; i < len(s); n++ {
		if s[i] < utf8.RuneSelf {
			i++
		} else if _, ok := tuRune3(s, i); ok {
			i += 3
		} else {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
		}
	}
	return n
}

// tuRuneCount is utf8.RuneCountInString for valid UTF-8, eight bytes at a
// time: the bytes that are not continuation bytes (10xxxxxx). (Invalid
// UTF-8 counts differently; documents are valid UTF-8.)
func tuRuneCount(s string) int {
	n := len(s)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		n -= bits.OnesCount64(x &^ (x << 1) & 0x8080808080808080)
	}
	for ; i < len(s); i++ {
		if s[i]&0xc0 == 0x80 {
			n--
		}
	}
	return n
}

// tuKeepSlots bounds the tables a Computer keeps between documents.
const tuKeepSlots = 1 << 21

// tuTableSize returns the number of slots for n keys (load ≤ 1/4).
func tuTableSize(n int) int {
	size := 256
	for size < 4*n {
		size <<= 1
	}
	return size
}

// tuTable is an open-addressing table of positions keyed by hash, reused
// across passes and documents: a pass bumps an 8-bit generation kept in
// each slot instead of clearing the table (which happens every 255
// passes). A slot holds a 24-bit fingerprint of the hash, so that most
// other keys on the probe path are passed over without a comparison; the
// caller compares the keys of a matching fingerprint's position.
type tuTable struct {
	slots []uint64 // fingerprint (24 bits) | position (32 bits) | generation (8 bits); generation 0 = never used
	mask  uint64
	shift uint8
	gen   uint64
}

const tuFingerprint = uint64(0xffffff) << 40

// reset starts a pass for up to n keys. It uses the first slots only, as
// many as n needs: a table left large by an earlier document would spread
// a small one's keys over more cache lines.
func (t *tuTable) reset(n int) {
	size := tuTableSize(n)
	if len(t.slots) < size || len(t.slots) > tuKeepSlots && size <= tuKeepSlots {
		t.slots = make([]uint64, size)
		t.gen = 0
	}
	t.mask = uint64(size - 1)
	t.shift = uint8(64 - bits.Len64(t.mask))
	if t.gen++; t.gen == 0x100 {
		clear(t.slots)
		t.gen = 1
	}
}

// home returns the first slot to probe for hash h, and h's fingerprint:
// the top and the bottom bits of h times an odd constant, so the slot
// depends on every bit of h.
func (t *tuTable) home(h uint64) (slot, fp uint64) {
	h *= 0x9e3779b97f4a7c15
	return h >> (t.shift & 63), h << 40
}

// next returns the slot after s.
func (t *tuTable) next(s uint64) uint64 { return (s + 1) & t.mask }

// probe walks the slots from s: at the first one holding fingerprint fp
// it returns that slot and its position; at the first unused one it stores
// pos with fp there and returns -1.
func (t *tuTable) probe(s, fp uint64, pos int) (slot uint64, j int) {
	for {
		v := t.slots[s]
		if v&0xff != t.gen {
			t.slots[s] = fp | uint64(uint32(pos))<<8 | t.gen
			return s, -1
		}
		if v&tuFingerprint == fp {
			return s, int(uint32(v >> 8))
		}
		s = (s + 1) & t.mask
	}
}

// tuHashSeed seeds the line and paragraph hashes. Only candidates are found
// by hash, so signal values do not depend on it.
var tuHashSeed = maphash.MakeSeed()

// tuDuplicates is datatrove's find_duplicates over the parts of text:
// walking the parts in order, a part equal to an earlier one is a duplicate
// (first occurrences never count). It returns the number of duplicates and
// their length in characters.
func tuDuplicates(t *tuTable, text string, parts []tuSpan) (dups, dupRunes int) {
	t.reset(len(parts))
	for i, p := range parts {
		if tuSeenPart(t, text, parts, i) {
			dups++
			dupRunes += tuRuneCount(text[p.start:p.end])
		}
	}
	return dups, dupRunes
}

// tuSeenPart reports whether an earlier part in t equals part i, adding i
// to t when none does.
func tuSeenPart(t *tuTable, text string, parts []tuSpan, i int) bool {
	s := text[parts[i].start:parts[i].end]
	slot, fp := t.home(maphash.String(tuHashSeed, s))
	for {
		var j int
		if slot, j = t.probe(slot, fp, i); j < 0 {
			return false
		}
		if text[parts[j].start:parts[j].end] == s {
			return true
		}
		slot = t.next(slot)
	}
}

// tuWordSet is a set of up to 32 short words (at most 7 bytes each) for
// token lookups without a map: a 1024-bit filter on (length, first byte,
// last byte) rejects almost every other token, then a word is packed into
// a uint64 and found in a small open-addressing table.
type tuWordSet struct {
	filter [16]uint64
	keys   [64]uint64 // 0 = empty
	idx    [64]uint8
	hashes [4]uint64 // a 256-bit filter on the words' token hashes (tuToken.h)
}

func newTuWordSet(words ...string) *tuWordSet {
	if len(words) > 32 {
		panic("filters: a tuWordSet holds at most 32 words")
	}
	s := &tuWordSet{}
	for i, w := range words {
		k, ok := tuPack(w)
		if !ok {
			panic("filters: tuWordSet word not 1–7 bytes: " + w)
		}
		f := tuWordFilterBit(w)
		s.filter[f/64] |= 1 << (f % 64)
		j := (k * 0x9e3779b97f4a7c15) >> 58
		for s.keys[j] != 0 {
			j = (j + 1) & 63
		}
		s.keys[j], s.idx[j] = k, uint8(i)
		h := tuWordToken(w).h
		s.hashes[tuHashFilterBit(h)/64] |= 1 << (tuHashFilterBit(h) % 64)
	}
	return s
}

// tuWordToken is w as one token (its hash and flags), as the tokenizer
// makes it of a segment-stage word.
func tuWordToken(w string) tuToken {
	var t tuTokens
	t.fromDocWords(w, []string{w})
	return t.toks[0]
}

func tuHashFilterBit(h uint64) uint64 { return (h * 0x9e3779b97f4a7c15) >> 56 }

// mayHold reports false for most tokens that are none of the words, from
// the token's hash h alone: equal words have equal hashes.
func (s *tuWordSet) mayHold(h uint64) bool {
	b := tuHashFilterBit(h)
	return s.hashes[b/64]&(1<<(b%64)) != 0
}

func tuWordFilterBit(w string) uint {
	return (uint(w[0])*0x9e + uint(w[len(w)-1])*0x3b + uint(len(w))*0x1f) & 1023
}

// tuPack packs a word of 1–7 bytes with its length into a non-zero uint64.
func tuPack(w string) (uint64, bool) {
	if len(w) == 0 || len(w) > 7 {
		return 0, false
	}
	k := uint64(len(w)) << 56
	for i := 0; i < len(w); i++ {
		k |= uint64(w[i]) << (8 * i)
	}
	return k, true
}

// index returns the position of w in the set's word list, or -1.
func (s *tuWordSet) index(w string) int {
	if len(w) == 0 || len(w) > 7 {
		return -1
	}
	if f := tuWordFilterBit(w); s.filter[f/64]&(1<<(f%64)) == 0 {
		return -1
	}
	k, _ := tuPack(w)
	for j := (k * 0x9e3779b97f4a7c15) >> 58; ; j = (j + 1) & 63 {
		switch s.keys[j] {
		case k:
			return int(s.idx[j])
		case 0:
			return -1
		}
	}
}

// tuRatio is a/b, NaN for b = 0.
func tuRatio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}
