package dedup

import (
	"unicode"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// Shingling normalises a document into units and hashes every run of nEff
// consecutive units. The normalisation is fixed on purpose: signatures made
// by different runs or versions must stay comparable.
//
//   - A unit rune is a letter or a number (unicode.IsLetter || IsNumber).
//     Fullwidth ASCII U+FF01–FF5E is folded to ASCII first, letters are
//     lowercased (unicode.ToLower), and every decimal digit (unicode.IsDigit)
//     becomes '0', so "２０２４年" and "2023年" agree.
//   - Every other rune (punctuation of any width, whitespace, symbols, emoji,
//     invalid UTF-8 bytes) is skipped, so "你好，世界" and "你好,世界" shingle
//     alike. Between words it ends the word; combining marks (category M) are
//     dropped without ending the word, so Devanagari or NFD accents do not
//     shatter words into pieces.
//   - Unit "char": each unit rune is a unit.
//   - Unit "word" with tokens: each token, normalised to its unit runes;
//     tokens left empty are dropped. Without tokens: maximal runs of unit
//     runes, except that each Han or kana rune is a word of its own.
//   - Unit "auto": "char" when Han+kana are at least half of the unit runes
//     among the first mhAutoRunes runes, else "word".
//
// The hashed bytes of a shingle are one byte nEff (so shingles of different
// sizes never match), then the units' normalised UTF-8, with a 0x00 byte
// between word units. A unit longer than mhMaxUnit bytes is replaced by
// 0xFF and the 8 bytes of its xxhash64 (0xFF never occurs in UTF-8), which
// keeps the window, and so Sign's memory, bounded whatever the text.

const (
	mhMaxN      = 32   // largest MinHashParams.N
	mhMaxUnit   = 64   // longer units are hashed to 9 bytes
	mhAutoRunes = 4096 // runes sampled by unit "auto"
	mhWinCap    = 1 + mhMaxN*(mhMaxUnit+1)
)

type mhUnitMode uint8

const (
	mhChar mhUnitMode = iota
	mhWordText
	mhWordTokens
)

// mhASCII maps an ASCII rune to its normalised unit rune, or -1.
var mhASCII = func() (t [128]rune) {
	for r := range t {
		switch {
		case r >= '0' && r <= '9':
			t[r] = '0'
		case r >= 'a' && r <= 'z':
			t[r] = rune(r)
		case r >= 'A' && r <= 'Z':
			t[r] = rune(r) + 'a' - 'A'
		default:
			t[r] = -1
		}
	}
	return t
}()

// mhNorm returns the normalised unit rune for r, or -1 when r is not one.
// ASCII and the common CJK block take the inlined fast path.
func mhNorm(r rune) rune {
	if r < utf8.RuneSelf {
		return mhASCII[r]
	}
	if r >= 0x4E00 && r <= 0x9FFF { // no case, no digits
		return r
	}
	return mhNormSlow(r)
}

func mhNormSlow(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		return mhASCII[r-0xFEE0]
	}
	if unicode.IsLetter(r) {
		return unicode.ToLower(r)
	}
	if unicode.IsNumber(r) {
		if unicode.IsDigit(r) {
			return '0'
		}
		return r
	}
	return -1
}

// mhHanKana reports whether the unit rune r is Han, Hiragana or Katakana.
func mhHanKana(r rune) bool {
	if r < 0x2E80 {
		return false
	}
	return r >= 0x4E00 && r <= 0x9FFF || unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana)
}

// mhResolveUnit picks char or word units for one document.
func mhResolveUnit(unit string, text string, tokens []string) mhUnitMode {
	word := mhWordText
	if tokens != nil {
		word = mhWordTokens
	}
	switch unit {
	case "char":
		return mhChar
	case "word":
		return word
	}
	if mhMostlyCJK(text) {
		return mhChar
	}
	return word
}

// mhMostlyCJK reports whether Han+kana are at least half of the unit runes
// among the first mhAutoRunes runes of text. It stops as soon as the rest
// of the sample could no longer change the answer.
func mhMostlyCJK(text string) bool {
	units, cjk, left := 0, 0, mhAutoRunes
	for _, r := range text {
		if left == 0 {
			break
		}
		left--
		if r >= 0x4E00 && r <= 0x9FFF {
			units++
			cjk++
		} else if n := mhNorm(r); n >= 0 {
			units++
			if mhHanKana(n) {
				cjk++
			}
		}
		if 2*cjk >= units+left && units > 0 { // even if all the rest are non-CJK units
			return true
		}
		if 2*cjk+left < units { // even if all the rest are CJK
			return false
		}
	}
	return units > 0 && 2*cjk >= units
}

// mhUnits yields a document's units one at a time, normalised, into a fixed
// buffer: no allocation, whatever the length of the text or of one word.
type mhUnits struct {
	mode    mhUnitMode
	text    string
	tokens  []string
	pos     int  // next byte of text, or next token
	pending rune // a Han/kana rune that ended the previous word, or -1
	unit    [mhMaxUnit + utf8.UTFMax]byte
	n       int  // bytes in unit
	long    bool // unit overflowed: its bytes are in dig
	dig     xxhash.Digest
}

func (u *mhUnits) reset(mode mhUnitMode, text string, tokens []string) {
	u.mode, u.text, u.tokens, u.pos, u.pending = mode, text, tokens, 0, -1
}

// add appends the normalised rune r to the current word unit; past
// mhMaxUnit bytes the word streams into dig instead.
func (u *mhUnits) add(r rune) {
	u.n += utf8.EncodeRune(u.unit[u.n:], r)
	if u.n > mhMaxUnit {
		if !u.long {
			u.long = true
			u.dig.Reset()
		}
		u.dig.Write(u.unit[:u.n])
		u.n = 0
	}
}

// bytes returns the finished unit: its bytes, or 0xFF + hash when it was long.
func (u *mhUnits) bytes() []byte {
	if !u.long {
		return u.unit[:u.n]
	}
	u.dig.Write(u.unit[:u.n])
	h := u.dig.Sum64()
	u.unit[0] = 0xFF
	for i := 1; i <= 8; i++ {
		u.unit[i] = byte(h >> (8 * (i - 1)))
	}
	u.n = 9
	return u.unit[:9]
}

// next returns the next unit, or false at the end of the document.
func (u *mhUnits) next() ([]byte, bool) {
	u.n, u.long = 0, false
	switch u.mode {
	case mhChar:
		for u.pos < len(u.text) {
			r, size := rune(u.text[u.pos]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(u.text[u.pos:])
			}
			u.pos += size
			if r = mhNorm(r); r >= 0 {
				return u.unit[:utf8.EncodeRune(u.unit[:], r)], true
			}
		}
		return nil, false
	case mhWordText:
		return u.nextTextWord()
	default:
		return u.nextToken()
	}
}

func (u *mhUnits) nextTextWord() ([]byte, bool) {
	if u.pending >= 0 {
		r := u.pending
		u.pending = -1
		return u.unit[:utf8.EncodeRune(u.unit[:], r)], true
	}
	for u.pos < len(u.text) {
		r, size := utf8.DecodeRuneInString(u.text[u.pos:])
		u.pos += size
		n := mhNorm(r)
		switch {
		case n >= 0 && mhHanKana(n):
			if u.n > 0 || u.long {
				u.pending = n
				return u.bytes(), true
			}
			return u.unit[:utf8.EncodeRune(u.unit[:], n)], true
		case n >= 0:
			u.add(n)
		case unicode.Is(unicode.M, r):
			// A mark stays inside its word.
		case u.n > 0 || u.long:
			return u.bytes(), true
		}
	}
	if u.n > 0 || u.long {
		return u.bytes(), true
	}
	return nil, false
}

func (u *mhUnits) nextToken() ([]byte, bool) {
	for u.pos < len(u.tokens) {
		tok := u.tokens[u.pos]
		u.pos++
		for _, r := range tok {
			if n := mhNorm(r); n >= 0 {
				u.add(n)
			}
		}
		if u.n > 0 || u.long {
			return u.bytes(), true
		}
	}
	return nil, false
}

// mhWindow is the sliding window of the last nEff units, laid out as the
// bytes to hash; lens is a ring of the units' byte lengths.
type mhWindow struct {
	n, sep     int // nEff; 1 for word units (0x00 between units), else 0
	end, count int
	head       int
	lens       [mhMaxN]int
	buf        [mhWinCap]byte
}

func (w *mhWindow) reset(nEff int, words bool) {
	w.n, w.sep, w.end, w.count, w.head = nEff, 0, 1, 0, 0
	if words {
		w.sep = 1
	}
	w.buf[0] = byte(nEff)
}

// push adds a unit and reports whether the window now holds a full shingle.
func (w *mhWindow) push(unit []byte) bool {
	if w.count == w.n {
		if w.count == 1 {
			w.end = 1
		} else {
			drop := w.lens[w.head] + w.sep
			copy(w.buf[1:], w.buf[1+drop:w.end])
			w.end -= drop
		}
		w.count--
		if w.head++; w.head == w.n {
			w.head = 0
		}
	}
	if w.count > 0 && w.sep == 1 {
		w.buf[w.end] = 0
		w.end++
	}
	w.end += copy(w.buf[w.end:], unit)
	tail := w.head + w.count
	if tail >= w.n {
		tail -= w.n
	}
	w.lens[tail] = len(unit)
	w.count++
	return w.count == w.n
}

// mhShingles streams the shingle hashes of one document: the one source of
// shingles for both Sign and Shingles.
type mhShingles struct {
	units mhUnits
	win   mhWindow
}

// start prepares the stream and returns the number of units U, counted up
// to stopAt (enough to fix nEff), and nEff; U == 0 means no shingles.
func (s *mhShingles) start(unit string, n, minN int, text string, tokens []string) (int, int) {
	mode := mhResolveUnit(unit, text, tokens)
	s.units.reset(mode, text, tokens)
	stopAt := 8*n - 1 // from here on nEff = n
	u := 0
	for u < stopAt {
		if _, ok := s.units.next(); !ok {
			break
		}
		u++
	}
	if u == 0 {
		return 0, 0
	}
	// Never more than u, or a short document would have no shingle at all.
	nEff := min(max((u+1)/8, minN, 1), n, u)
	s.units.reset(mode, text, tokens)
	s.win.reset(nEff, mode != mhChar)
	return u, nEff
}

// next returns the next shingle's xxhash64.
func (s *mhShingles) next() (uint64, bool) {
	for {
		unit, ok := s.units.next()
		if !ok {
			return 0, false
		}
		if s.win.push(unit) {
			return xxhash.Sum64(s.win.buf[:s.win.end]), true
		}
	}
}
