package stages

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/unicode/norm"
)

// normTableSize is the range of the per-rune class table: the Basic
// Multilingual Plane plus planes 1 (emoji, mathematical letters) and 2 (Han
// extensions B–F), which covers nearly every character of real text; runes
// above it are classified on the fly.
const normTableSize = 0x30000

// normClass holds what the normalizer needs to know about one rune, so the
// scan over a document costs one table load per non-ASCII character. The
// counted properties are single bits at fixed positions so the scan adds
// them without branching.
type normClass uint32

const (
	clHan        normClass = 1 << iota // Han ideograph
	clKana                             // Hiragana or Katakana
	clHangul                           // Hangul
	clNotNFC                           // may change under NFC (decomposes, composes with its left or is a non-starter)
	clNotNFKC                          // likewise under NFKC
	clRemove                           // control, format, private-use or noncharacter: deleted by remove_controls
	clJoiner                           // ZWNJ/ZWJ: deleted unless between letters of a script that needs them, or in an emoji sequence
	clC1                               // C1 control: also a mojibake signal
	clWidthAlnum                       // full-width letter or digit, or U+3000
	clWidthPunct                       // full-width punctuation or symbol, or … ‥: kept unless halfwidth_punct
	clSpace                            // non-ASCII horizontal white space (Zs)
	clLineSep                          // U+2028, U+2029
	clGBKMoji                          // Han character whose GBK code looks like two bytes of UTF-8 Chinese
	clTrigger                          // the t2s chain may change it (per t2s mode; see t2sConverter)
	clStrictTrad                       // Traditional-only character (per t2s mode)
)

// The mojibake bits: for each code page k of sbCodecs, bit clMojiLead+k is
// set when the rune is a UTF-8 lead byte (0xC2–0xF4) in it, and bit
// clMojiCont+k when it is a continuation byte (0x80–0xBF).
const (
	clMojiLead = 16
	clMojiCont = 20
	clMojiMask = 0xF
)

// Bit positions of the counted properties.
const (
	shHan        = 0
	shKana       = 1
	shHangul     = 2
	shC1         = 7
	shGBKMoji    = 12
	shStrictTrad = 14
)

var normTables = sync.OnceValue(buildNormTables)

// normClassOf returns r's class without the t2s bits.
func normClassOf(r rune) normClass {
	if r < normTableSize {
		return normTables()[r]
	}
	return classifyRune(r, nil)
}

// buildNormTables classifies every rune of the table's range, once per
// process (about 65 ms; the t2s bits are added per mode by newT2S).
func buildNormTables() []normClass {
	gbk := gbkMojiSet()
	t := make([]normClass, normTableSize)
	for r := rune(0); r < normTableSize; r++ {
		t[r] = classifyRune(r, gbk)
	}
	return t
}

// classifyRune computes r's class; gbk is the clGBKMoji set (nil above the
// table, where no GBK character lives).
func classifyRune(r rune, gbk *normRuneSet) normClass {
	if r < 0 || r > unicode.MaxRune {
		return 0
	}
	var c normClass
	switch {
	case unicode.Is(unicode.Han, r):
		c |= clHan
	case unicode.In(r, unicode.Hiragana, unicode.Katakana):
		c |= clKana
	case unicode.Is(unicode.Hangul, r):
		c |= clHangul
	}
	if r < utf8.RuneSelf {
		// ASCII is handled byte by byte by the scan.
		return c
	}
	if isRemovable(r) {
		c |= clRemove
	}
	if r == 0x200C || r == 0x200D {
		c |= clJoiner
	}
	if r >= 0x80 && r <= 0x9F {
		c |= clC1
	}
	switch {
	case r == 0x3000 || r >= 0xFF10 && r <= 0xFF19 || r >= 0xFF21 && r <= 0xFF3A || r >= 0xFF41 && r <= 0xFF5A:
		c |= clWidthAlnum
	case isWidthPunct(r):
		c |= clWidthPunct
	}
	if unicode.Is(unicode.Zs, r) {
		c |= clSpace
	}
	if r == 0x2028 || r == 0x2029 {
		c |= clLineSep
	}
	for k, cp := range sbCodecs() {
		if b, ok := cp.byteOf(r); ok {
			if cp.leadOK[b] {
				c |= 1 << (clMojiLead + k)
			}
			if b >= 0x80 && b <= 0xBF {
				c |= 1 << (clMojiCont + k)
			}
		}
	}
	if gbk != nil && gbk.has(r) {
		c |= clGBKMoji
	}
	if c&(clWidthAlnum|clWidthPunct) != 0 {
		// Width characters follow fullwidth_ascii and halfwidth_punct only.
		return c
	}
	if mayChangeUnder(norm.NFC, r) {
		c |= clNotNFC
	}
	if mayChangeUnder(norm.NFKC, r) {
		c |= clNotNFKC
	}
	return c
}

// isWidthPunct reports the characters that NFKC would turn into ASCII (or
// other narrow) punctuation, which Chinese text uses as its own:
// full-width punctuation and symbols (，！？：；（）…), the full-width
// signs ￠￡￢￣￤￥￦, and the ellipsis and two-dot leader (…… is Chinese
// punctuation, "......" is not).
func isWidthPunct(r rune) bool {
	switch {
	case r >= 0xFF01 && r <= 0xFF0F, r >= 0xFF1A && r <= 0xFF20,
		r >= 0xFF3B && r <= 0xFF40, r >= 0xFF5B && r <= 0xFF60,
		r >= 0xFFE0 && r <= 0xFFE6, r == 0x2025, r == 0x2026:
		return true
	}
	return false
}

// isRemovable reports the invisible characters remove_controls deletes:
// C0 controls but tab, LF and CR (CR is whitespace's business), DEL, C1
// controls, zero-width space, word joiner, BOM / zero-width no-break space,
// soft hyphen, invisible math operators, deprecated format characters,
// interlinear annotation marks, private-use characters and noncharacters.
// ZWNJ/ZWJ are clJoiner; bidi controls and variation selectors are kept:
// they carry meaning in RTL text and emoji.
func isRemovable(r rune) bool {
	switch {
	case r < 0x20:
		return r != '\t' && r != '\n' && r != '\r'
	case r >= 0x7F && r <= 0x9F, r == 0xAD, r == 0x200B, r == 0x2060, r == 0xFEFF,
		r >= 0x2061 && r <= 0x2064, r >= 0x206A && r <= 0x206F, r >= 0xFFF9 && r <= 0xFFFB:
		return true
	case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE:
		return true // noncharacters
	}
	return unicode.Is(unicode.Co, r)
}

// mayChangeUnder reports whether r can be changed by form in some context:
// it is not normal on its own (it decomposes), or it is not a boundary (it
// may compose with, or reorder against, what precedes it). A text with no
// such rune is already normal, which is the quick check's rule.
func mayChangeUnder(form norm.Form, r rune) bool {
	var buf [utf8.UTFMax]byte
	b := buf[:utf8.EncodeRune(buf[:], r)]
	p := form.Properties(b)
	return !p.BoundaryBefore() || p.CCC() != 0 || !form.IsNormal(b)
}

// gbkMojiSet marks the Han characters that UTF-8 Chinese turns into when
// read as GBK: those whose two GBK bytes are both UTF-8 bytes of a
// three-byte sequence (a lead E0–EF or a continuation 80–BF), and not two
// leads. Ordinary Simplified text has about one Han character in ten in
// this set, such mojibake nearly all of them. Kana and symbols are left
// out: GBK's kana rows look the same, and Japanese is not mojibake.
func gbkMojiSet() *normRuneSet {
	var s normRuneSet
	dec := simplifiedchinese.GBK.NewDecoder()
	utf8ish := func(b int) bool { return b >= 0x80 && b <= 0xBF || b >= 0xE0 && b <= 0xEF }
	var in [2]byte
	var out [8]byte
	for b1 := 0x81; b1 <= 0xEF; b1++ {
		for b2 := 0x80; b2 <= 0xEF; b2++ {
			if !utf8ish(b1) || !utf8ish(b2) || b1 >= 0xE0 && b2 >= 0xE0 {
				continue
			}
			in[0], in[1] = byte(b1), byte(b2)
			nDst, _, err := dec.Transform(out[:], in[:], true)
			dec.Reset()
			if err != nil {
				continue
			}
			r, size := utf8.DecodeRune(out[:nDst])
			if size == nDst && unicode.Is(unicode.Han, r) {
				s.add(r)
			}
		}
	}
	return &s
}

// normRuneSet is a bitmap over the class table's range.
type normRuneSet [normTableSize / 64]uint64

func (s *normRuneSet) add(r rune) { s[r>>6] |= 1 << (r & 63) }

func (s *normRuneSet) has(r rune) bool {
	return r >= 0 && r < normTableSize && s[r>>6]&(1<<(r&63)) != 0
}
