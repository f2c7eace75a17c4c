package filters

import (
	"sync"
	"unicode"
)

// Character classes shared by the zh_quality and text_stats families.
//
// Both families look at every character of every document, and a Chinese
// document is mostly characters outside ASCII, where the unicode package's
// range-table searches cost tens of nanoseconds each. zhClassOf answers
// with one lookup in a table of the Basic Multilingual Plane (built once per
// process, 128 KiB) and falls back to the unicode package above it.

// zhClass is a bit set of the Unicode properties the families use.
type zhClass uint16

const (
	zhcLetter  zhClass = 1 << iota // L*: letters, CJK ideographs and kana included
	zhcMark                        // M*: combining marks
	zhcNumber                      // N*: Nd, Nl, No (①, ², 〇)
	zhcDigit                       // Nd: decimal digits (ASCII, full-width, other scripts)
	zhcPunct                       // P*: punctuation, CJK punctuation included (，。、【】《》)
	zhcSymbol                      // S*: Sm, Sc, Sk, So (emoji are So)
	zhcSpace                       // unicode.IsSpace: \t \n \v \f \r, space, U+0085, U+00A0, U+2000–200A, U+2028/9, U+3000 …
	zhcHan                         // Script=Han: ideographs, 々 〆 〇, radicals, compatibility ideographs
	zhcKana                        // Script=Hiragana or Katakana, and the prolonged sound mark ー
	zhcControl                     // Cc, Cf, Co, Cs and unassigned: control and format characters (U+200B, U+FEFF), private use
)

var (
	zhClassOnce  sync.Once
	zhClassTable *[0x10000]zhClass
)

// zhClassInit builds the BMP table (about 5 ms, once per process).
func zhClassInit() {
	zhClassOnce.Do(func() {
		t := new([0x10000]zhClass)
		for r := rune(0); r < 0x10000; r++ {
			t[r] = zhClassSlow(r)
		}
		zhClassTable = t
	})
}

// zhClassOf returns the classes of r. zhClassInit must have run.
func zhClassOf(r rune) zhClass {
	if r < 0x10000 && r >= 0 {
		return zhClassTable[r]
	}
	return zhClassSlow(r)
}

func zhClassSlow(r rune) zhClass {
	var c zhClass
	switch {
	case unicode.IsLetter(r):
		c |= zhcLetter
	case unicode.IsMark(r):
		c |= zhcMark
	case unicode.IsNumber(r):
		c |= zhcNumber
		if unicode.IsDigit(r) {
			c |= zhcDigit
		}
	case unicode.IsPunct(r):
		c |= zhcPunct
	case unicode.IsSymbol(r):
		c |= zhcSymbol
	case unicode.IsSpace(r):
		c |= zhcSpace
	default:
		c |= zhcControl
	}
	if unicode.IsSpace(r) { // U+0085 is Cc and a space
		c = c&^zhcControl | zhcSpace
	}
	if unicode.Is(unicode.Han, r) {
		c |= zhcHan
	}
	if unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || r == 'ー' {
		c |= zhcKana
	}
	return c
}
