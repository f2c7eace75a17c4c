package stages

import "unicode"

// script is a writing system as the language identifier sees it. Only
// letters have one: digits, punctuation, symbols, spaces, emoji and
// combining marks are scriptNone, so they never tip a decision.
type script uint8

const (
	scriptNone script = iota
	scriptHan
	scriptKana // Hiragana and Katakana: their presence makes Han text Japanese
	scriptHangul
	scriptLatin
	scriptCyrillic
	scriptArabic
	scriptGreek
	scriptHebrew
	scriptDevanagari
	scriptBengali
	scriptGurmukhi
	scriptGujarati
	scriptTamil
	scriptTelugu
	scriptThai
	scriptGeorgian
	scriptArmenian
	scriptOther // letters of any other script: no configured language can claim them
	numScripts
)

var scriptNames = [numScripts]string{
	"none", "han", "kana", "hangul", "latin", "cyrillic", "arabic", "greek", "hebrew",
	"devanagari", "bengali", "gurmukhi", "gujarati", "tamil", "telugu", "thai",
	"georgian", "armenian", "other",
}

func (s script) String() string { return scriptNames[s] }

// spaced reports whether s separates words with spaces, so that a run of
// its letters longer than any word is junk (a hash, a held-down key).
func (s script) spaced() bool {
	return s >= scriptLatin && s < scriptOther && s != scriptThai
}

// scriptTables maps the scripts after the CJK fast paths to their Unicode
// tables, in the order scriptOf tries them (most frequent first).
var scriptTables = [...]struct {
	s   script
	tab *unicode.RangeTable
}{
	{scriptHan, unicode.Han},
	{scriptKana, unicode.Hiragana},
	{scriptKana, unicode.Katakana},
	{scriptHangul, unicode.Hangul},
	{scriptLatin, unicode.Latin},
	{scriptCyrillic, unicode.Cyrillic},
	{scriptArabic, unicode.Arabic},
	{scriptGreek, unicode.Greek},
	{scriptHebrew, unicode.Hebrew},
	{scriptDevanagari, unicode.Devanagari},
	{scriptBengali, unicode.Bengali},
	{scriptGurmukhi, unicode.Gurmukhi},
	{scriptGujarati, unicode.Gujarati},
	{scriptTamil, unicode.Tamil},
	{scriptTelugu, unicode.Telugu},
	{scriptThai, unicode.Thai},
	{scriptGeorgian, unicode.Georgian},
	{scriptArmenian, unicode.Armenian},
}

// scriptOf returns the script of letter r, or scriptNone when r is not a
// letter. The common blocks are tested by range first: this runs once per
// character of every document, and the table search costs several times more.
func scriptOf(r rune) script {
	switch {
	case r < 0x80:
		if c := r | 0x20; 'a' <= c && c <= 'z' {
			return scriptLatin
		}
		return scriptNone
	case 0x4E00 <= r && r <= 0x9FFF: // CJK Unified Ideographs
		return scriptHan
	case 0x3041 <= r && r <= 0x3096, 0x30A1 <= r && r <= 0x30FA, // Hiragana, Katakana letters
		r == 0x30FC, r == 0xFF70: // ー and ｰ are Common script but only Japanese writes them
		return scriptKana
	case 0xAC00 <= r && r <= 0xD7A3: // Hangul syllables
		return scriptHangul
	case 0x3000 <= r && r <= 0x3004, 0x3008 <= r && r <= 0x3020, 0xFF01 <= r && r <= 0xFF20:
		// CJK and full-width punctuation, full-width digits: frequent in
		// Chinese text and never letters.
		return scriptNone
	case r < 0x250: // Latin-1 and Latin Extended-A/B
		if unicode.IsLetter(r) && r != 0xB5 { // µ MICRO SIGN is a symbol here
			return scriptLatin
		}
		return scriptNone
	}
	// Vowel signs of Brahmic scripts and Thai are marks, not letters, yet
	// they are a third of the text there: count a mark as a letter of its
	// script. Marks shared by all scripts (U+0300 …, Inherited) are in none
	// of the tables and stay scriptNone.
	letter := unicode.IsLetter(r)
	if !letter && !unicode.In(r, unicode.Mn, unicode.Mc) {
		return scriptNone
	}
	for _, t := range scriptTables {
		if unicode.Is(t.tab, r) {
			return t.s
		}
	}
	if letter && !unicode.Is(unicode.Common, r) {
		return scriptOther
	}
	return scriptNone
}
