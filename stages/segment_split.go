package stages

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
	"github.com/yanyiwu/gojieba"
)

// How a document becomes words
//
// A Han block is a maximal run of "block" runes (see segBlockRune: Han,
// ASCII letters and digits, "+#&._%-", and letters, digits and marks of the
// Latin, Greek, Bopomofo and Common scripts, full-width forms excepted) that
// holds at least one Han character. Han blocks are cut by jieba; everything between them
// (punctuation, white space, emoji, words in other scripts, runs without
// Han) is split by Unicode word boundaries (UAX #29, rivo/uniseg).
//
// Handing jieba Han blocks rather than whole lines is what Python jieba does
// (its re_han blocks). cppjieba splits its input only at " \t\n，。" and lets
// every other symbol into its HMM, where it pulls neighbouring characters
// apart: raw gojieba cuts “范爱农” and 《范爱农》 into 范/爱/农, a block gives
// 范爱农. Within a block the words are exactly gojieba's Cut of that block.
// Latin letters, digits and Greek stay in blocks because jieba's dictionary
// and user dictionaries hold mixed terms (T恤, B超, α-淀粉酶, Ⅱ型); full-width
// forms, Cyrillic, kana, Hangul, Arabic and other scripts that jieba cannot
// cut go to uniseg even when glued to Han.
//
// A token is kept when it holds at least one letter or number (Unicode L or
// N): punctuation, symbols, emoji and white space are not words, for word
// counts or for shingles. Tokens are byte-exact substrings of the text, in
// text order, never changed (no case folding).
//
// Long input: jieba's memory grows with its input (~130 bytes per input
// byte: 2.1 GB for one 16 MB line) although its time is linear, so blocks are
// handed to it in chunks of at most segChunkBytes, split between blocks. A
// single block longer than that (no punctuation or space for 64 KiB, which
// natural text never has) is cut at a character boundary, which may split
// the one word that straddles the cut.

// segChunkBytes bounds one jieba call: ~8 MB of cppjieba working memory.
const segChunkBytes = 64 << 10

// segSpan is a byte range [start, end) of a document.
type segSpan struct{ start, end int }

// segPiece is a block (or part of one) inside a jieba chunk: n bytes at in
// in the chunk, copied from doc in the document.
type segPiece struct{ in, doc, n int }

// segStats counts what segmenting one document did.
type segStats struct {
	jiebaTokens, unisegTokens int
	jiebaBytes, unisegBytes   int
	splitBlocks               int // blocks longer than segChunkBytes
}

// segmenter holds a stage's settings; its methods keep all per-document
// state in a segScratch, so one segmenter serves concurrent workers.
type segmenter struct {
	jb  *gojieba.Jieba // must not be nil when segment is called
	hmm bool
}

// segScratch is one worker's reusable working memory.
type segScratch struct {
	spans  []segSpan // the current document's word tokens
	blocks []segSpan
	pieces []segPiece
	in     []byte // the current jieba chunk
}

// segment appends the word spans of text to sc.spans (reset first). With
// jieba false every part of the text is split by uniseg.
func (s *segmenter) segment(sc *segScratch, text string, jieba bool) (segStats, error) {
	var st segStats
	sc.spans = sc.spans[:0]
	sc.blocks = sc.blocks[:0]
	if jieba {
		sc.blocks = appendHanBlocks(sc.blocks, text)
	}
	prev := 0 // end of the text handled so far
	for next := 0; next < len(sc.blocks); {
		next = s.fillChunk(sc, text, next, &st)
		var err error
		if prev, err = s.cutChunk(sc, text, prev, &st); err != nil {
			return st, err
		}
	}
	s.uniseg(sc, text, prev, len(text), &st)
	return st, nil
}

// cutChunk cuts the chunk in sc.in with jieba and appends, in text order,
// the words of the text from prev to the chunk's last piece: uniseg's before
// each piece, then jieba's in it. It returns where the chunk's text ends.
func (s *segmenter) cutChunk(sc *segScratch, text string, prev int, st *segStats) (int, error) {
	in := string(sc.in)
	// Cut's words tile its input in order, so a word's offset is the sum
	// of the lengths before it; Tokenize, which returns offsets, builds
	// structs on the Go side and is slower.
	words := s.jb.Cut(in, s.hmm)
	at, w := 0, 0
	for _, p := range sc.pieces {
		s.uniseg(sc, text, prev, p.doc, st)
		// A piece's words end at its end, where the space after it is a
		// word of its own (a jieba separator), skipped as the first word
		// before the next piece's start.
		for ; w < len(words) && at < p.in+p.n; w++ {
			start := at
			at += len(words[w])
			if start < p.in {
				continue
			}
			if at > p.in+p.n {
				return prev, fmt.Errorf("segment: jieba's word %q runs past the end of its block", words[w])
			}
			ds := p.doc + start - p.in
			de := ds + len(words[w])
			if segIsWord(text[ds:de]) {
				sc.spans = append(sc.spans, segSpan{ds, de})
				st.jiebaTokens++
			}
		}
		prev = p.doc + p.n
	}
	if w < len(words) {
		at += len(words[w]) // the last separator
		w++
	}
	if at != len(in) || w != len(words) {
		// Not reached with cppjieba as it is; a version that skipped
		// input would shift every later word, so stop rather than guess.
		return prev, fmt.Errorf("segment: jieba's words cover %d of the %d bytes it was given", at, len(in))
	}
	return prev, nil
}

// fillChunk copies blocks from sc.blocks[next:] into sc.in, each followed
// by a space, until segChunkBytes, and returns the index of the first block
// not yet (fully) copied. A block longer than a chunk is cut at a rune
// boundary; its rest stays in sc.blocks for the next chunk.
func (s *segmenter) fillChunk(sc *segScratch, text string, next int, st *segStats) int {
	sc.in, sc.pieces = sc.in[:0], sc.pieces[:0]
	for next < len(sc.blocks) {
		b := sc.blocks[next]
		n := b.end - b.start
		room := segChunkBytes - len(sc.in)
		if n > room {
			if len(sc.in) > 0 {
				break // give the long block a chunk of its own
			}
			n = room
			for !utf8.RuneStart(text[b.start+n]) {
				n--
			}
			sc.blocks[next].start += n
			st.splitBlocks++
		} else {
			next++
		}
		sc.pieces = append(sc.pieces, segPiece{in: len(sc.in), doc: b.start, n: n})
		sc.in = append(sc.in, text[b.start:b.start+n]...)
		sc.in = append(sc.in, ' ')
		st.jiebaBytes += n
	}
	return next
}

// uniseg appends the word tokens of text[from:to] by UAX #29 word boundaries.
func (s *segmenter) uniseg(sc *segScratch, text string, from, to int, st *segStats) {
	if from >= to {
		return
	}
	st.unisegBytes += to - from
	if !segIsWord(text[from:to]) {
		return // only punctuation and spaces: most gaps in Chinese text
	}
	rest, state := text[from:to], -1
	pos := from
	for len(rest) > 0 {
		var w string
		w, rest, state = uniseg.FirstWordInString(rest, state)
		if segIsWord(w) {
			sc.spans = append(sc.spans, segSpan{pos, pos + len(w)})
			st.unisegTokens++
		}
		pos += len(w)
	}
}

// appendHanBlocks appends the Han blocks of text to dst.
func appendHanBlocks(dst []segSpan, text string) []segSpan {
	start, han := -1, false
	for i, r := range text {
		if !segBlockRune(r) {
			if han {
				dst = append(dst, segSpan{start, i})
			}
			start, han = -1, false
			continue
		}
		if start < 0 {
			start = i
		}
		han = han || segIsHan(r)
	}
	if han {
		dst = append(dst, segSpan{start, len(text)})
	}
	return dst
}

// segASCIIBlock marks the ASCII runes that may be part of a Han block:
// letters, digits and the joiners of Python jieba's re_han ("3.14", "C++",
// "AT&T", "50%", "COVID-19").
var segASCIIBlock = func() (t [utf8.RuneSelf]bool) {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		t[r] = 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	for _, r := range "+#&._%-" {
		t[r] = true
	}
	return t
}()

// segBlockScripts are the scripts whose letters, digits and marks may sit
// inside a Han block (see the overview above).
var segBlockScripts = []*unicode.RangeTable{unicode.Latin, unicode.Greek, unicode.Common, unicode.Inherited, unicode.Bopomofo}

// segBlockRune reports whether r may be part of a Han block.
func segBlockRune(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return segASCIIBlock[r]
	case segIsHan(r):
		return true
	case 0xFF00 <= r && r <= 0xFFEF:
		// Full-width forms: jieba knows no words in them and cuts
		// "１９２５" digit by digit, where uniseg keeps the number.
		return false
	case unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
		return unicode.In(r, segBlockScripts...)
	}
	return false
}

// segIsHan reports whether r is a Han character (CJK ideographs of every
// extension, 〇, 々).
func segIsHan(r rune) bool {
	if 0x4E00 <= r && r <= 0x9FFF { // the URO: nearly every character of real text
		return true
	}
	return r >= 0x2E80 && unicode.Is(unicode.Han, r)
}

// segIsWord reports whether a token holds a letter or a number.
func segIsWord(tok string) bool {
	for _, r := range tok {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
				return true
			}
			continue
		}
		if 0x4E00 <= r && r <= 0x9FFF || unicode.IsLetter(r) || unicode.IsNumber(r) {
			return true
		}
	}
	return false
}
