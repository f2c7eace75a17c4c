package filters

import (
	"embed"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"winnow/pipeline"
)

// flagged_words: the share of a document's words that are on a word list
// (profanity, slurs, adult terms), per language.
//
// Matching. A document is a sequence of words: the segment stage's words
// (Doc.Words: jieba for Chinese, UAX #29 for the rest) when it ran before,
// else a fallback split (flgSplit) where every Han, kana, Thai, Lao, Khmer,
// Myanmar or Tibetan character is a word and other words are runs of
// letters, digits and marks. Each word is cut further into sub-words at
// every character that is not a letter, digit or mark ("S&M" → S, M;
// "don't" → don, t) and folded: lower case, full-width ASCII to ASCII.
// A list term goes through the same fallback split and folding, so it
// is a short sequence of sub-words. A term matches a run of consecutive
// sub-words of the document when the two spell the same string, where
// adjacent sub-words are joined with a space if both sides of the join are
// in a space-separated script and with nothing otherwise. So:
//
//   - a Chinese term matches words whose concatenation is the term: 白痴
//     matches [白痴] and [白 痴], but never part of a word: jieba cuts
//     白痴呆症 into [白 痴呆症], and 白痴 does not match there (substring
//     matching, as C4's bad-words filter does for zh, would);
//   - a space-separated term must match whole words: "ass" does not match
//     "assess" or [a ss], "son of a bitch" matches the four words in order;
//   - without the segment stage, a Chinese term matches any run of
//     characters spelling it (each Han character is a word), which is
//     substring matching again: run segment before this stage for Chinese.
//
// Matches do not overlap: at each sub-word the longest term starting there
// counts once and matching resumes after it. Words that hold no letter or
// digit (punctuation, emoji) are neither matched nor counted, and a term
// may span them (白，痴 matches 白痴): the segment stage drops such tokens
// anyway, so its words could not tell.
//
// Signals: flagged_count = number of matches; flagged_ratio =
// flagged_count / number of words (0 for a document without words). A
// multi-word term counts once. Both are NaN when no list applies to the
// document's language. The ratio counts segment-stage words, so without
// segmentation a Chinese document has about twice as many "words" (one
// per character) and half the ratio.
//
// Lists. Option lists maps a language code (the langid stage's lang) or
// "default" to a word-list file: one term per line, UTF-8, blank lines
// and lines starting with # ignored, surrounding white space trimmed. A
// document uses the list of its language if lists has that key (an empty
// path switches the language off), else the default list. "builtin:en",
// "builtin:zh" and "builtin:all" (both) name the small lists embedded from
// wordlists/ (see wordlists/README.md for their source and for the full
// public lists worth pointing at instead). The default is {default:
// builtin:all}: one list for every language, since an English term only
// matches whole Latin words and a Chinese term only Han words, and
// Chinese web and chat text quotes English profanity ("shit", "bitch").
//
// Default thresholds (max_flagged_ratio; a document is dropped above it):
//
//   - en and default: 0.045, data-juicer's flagged_words_filter default
//     (DJ keeps [0, 0.045], lang en, whitespace words); note DJ's list is
//     larger than the built-in one;
//   - zh: 0.01. data-juicer's zh demo recipe keeps ≤ 0.0045, but counted
//     over SentencePiece pieces plus every pair of adjacent pieces
//     (words_aug), which roughly doubles the denominator; ≈ 0.009 in
//     segment-stage words, rounded to 0.01. ROOTS used ≤ 0.001 for zh in
//     the same augmented space: one hit per ~500 words, stricter than a
//     chat or fiction corpus survives. A judgement call: tune on a sample.
//
// max_flagged_count has no default (off); set it to 0 to drop a document
// with any match.

// Signal and rule names.
const (
	flgSigRatio = "flagged_ratio"
	flgSigCount = "flagged_count"
)

//go:embed wordlists/en.txt wordlists/zh.txt
var flgWordlistFS embed.FS

// flgBuiltinPrefix marks a built-in list in the lists option.
const flgBuiltinPrefix = "builtin:"

// flgBuiltins are the built-in list names and their files.
var flgBuiltins = map[string][]string{
	"builtin:en":  {"wordlists/en.txt"},
	"builtin:zh":  {"wordlists/zh.txt"},
	"builtin:all": {"wordlists/en.txt", "wordlists/zh.txt"},
}

// FlaggedOptions are the flagged_words stage's options.
type FlaggedOptions struct {
	Lists      map[string]string `yaml:"lists" doc:"word list per language (zh, en, …, and default for the others): a file path (one term per line, # comments; a term with spaces matches consecutive words) or builtin:en, builtin:zh, builtin:all; an empty path switches the language off"`
	Thresholds Thresholds        `yaml:"thresholds" retune:"threshold" doc:"per language (zh, en, …, and default for the others): rule -> threshold; max_X drops a document whose signal X is above it; null switches a rule off"`
}

// FlaggedFamily describes the flagged_words signals and rules; its
// computer uses the default lists (builtin:all for every language), a
// stage built from a config the lists its options name.
var FlaggedFamily = &Family{
	Name: "flagged_words",
	Doc:  "drops documents with too many words from a per-language word list (signals flagged_ratio, flagged_count)",
	Signals: []Signal{
		{Name: flgSigRatio, Doc: "matches of list terms / words (segment-stage words, else one per Han character); NaN without a list for the language"},
		{Name: flgSigCount, Doc: "matches of list terms (a multi-word term counts once; matches do not overlap)"},
	},
	Rules: []Rule{
		{Key: "max_" + flgSigRatio, Signal: flgSigRatio},
		{Key: "max_" + flgSigCount, Signal: flgSigCount},
	},
	NewComputer: func() Computer {
		lists, err := flgDefaultLists()
		if err != nil {
			panic(err) // the embedded lists are checked by a test
		}
		return &flgComputer{lists: lists}
	},
	Defaults: map[string]map[string]float64{
		"default": {"max_" + flgSigRatio: 0.045},
		"en":      {"max_" + flgSigRatio: 0.045},
		"zh":      {"max_" + flgSigRatio: 0.01},
	},
}

// flgDefaultListOption is the lists option's default.
func flgDefaultListOption() map[string]string {
	return map[string]string{"default": "builtin:all"}
}

// flgDefaultLists are the lists of the default option, loaded once.
var flgDefaultLists = sync.OnceValues(func() (map[string]*flgList, error) {
	return flgLoadLists(flgDefaultListOption())
})

// FlaggedInfo registers the flagged_words stage.
var FlaggedInfo = pipeline.StageInfo{
	Name: FlaggedFamily.Name,
	Doc:  FlaggedFamily.Doc,
	Defaults: func() any {
		return &FlaggedOptions{Lists: flgDefaultListOption(), Thresholds: FlaggedFamily.defaultOptions().Thresholds}
	},
	New: func(o any, where string) (pipeline.Stage, error) {
		opts := o.(*FlaggedOptions)
		lists, err := flgLoadLists(opts.Lists)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		f := *FlaggedFamily
		f.NewComputer = func() Computer { return &flgComputer{lists: lists} }
		th, err := f.resolve(opts.Thresholds, where)
		if err != nil {
			return nil, err
		}
		return newFamilyStage(&f, th), nil
	},
}

// flgLoadLists loads the lists option: language → list, nil for a
// language switched off. A file named twice is read once.
func flgLoadLists(opt map[string]string) (map[string]*flgList, error) {
	langs := make([]string, 0, len(opt))
	for lang := range opt {
		langs = append(langs, lang)
	}
	sort.Strings(langs) // the first error is the same on every run
	byPath := map[string]*flgList{}
	out := make(map[string]*flgList, len(opt))
	for _, lang := range langs {
		path := opt[lang]
		if lang != "default" && !validLang(lang) {
			return nil, fmt.Errorf("lists: %q is not a language code (two or three lowercase letters) or default", lang)
		}
		if path == "" {
			out[lang] = nil
			continue
		}
		if l, ok := byPath[path]; ok {
			out[lang] = l
			continue
		}
		l, err := flgLoadList(path)
		if err != nil {
			return nil, fmt.Errorf("lists.%s: %w", lang, err)
		}
		byPath[path] = l
		out[lang] = l
	}
	return out, nil
}

// flgLoadList reads one list: a built-in name or a file path.
func flgLoadList(path string) (*flgList, error) {
	l := newFwList()
	if strings.HasPrefix(path, flgBuiltinPrefix) {
		files, ok := flgBuiltins[path]
		if !ok {
			return nil, fmt.Errorf("unknown built-in list %q; built-in lists: builtin:all, builtin:en, builtin:zh", path)
		}
		for _, name := range files {
			data, err := flgWordlistFS.ReadFile(name)
			if err != nil {
				return nil, err
			}
			if err := l.addFile(name, data); err != nil {
				return nil, err
			}
		}
		return l, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("word list: %w", err)
	}
	if err := l.addFile(path, data); err != nil {
		return nil, err
	}
	if l.terms == 0 {
		return nil, fmt.Errorf("%s: word list has no terms", path)
	}
	return l, nil
}

// flgList is a set of terms as a trie over folded runes, with ' ' between
// the sub-words of space-separated scripts.
type flgList struct {
	first    [1 << 16 / 64]uint64 // bit set of terms' first runes below U+10000
	edges    map[flgEdge]int32
	terminal []bool // per node: a term ends here
	maxSubs  int    // most sub-words in one term
	terms    int
}

type flgEdge struct {
	node int32
	r    rune
}

func newFwList() *flgList {
	return &flgList{edges: map[flgEdge]int32{}, terminal: []bool{false}}
}

// addFile adds the terms of a list file; errors name the file and line.
func (l *flgList) addFile(name string, data []byte) error {
	text := strings.TrimPrefix(string(data), "\uFEFF")
	var subs []string
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if !utf8.ValidString(line) {
			return fmt.Errorf("%s:%d: not valid UTF-8", name, n+1)
		}
		subs = flgSplit(subs[:0], line)
		if len(subs) == 0 {
			return fmt.Errorf("%s:%d: term %q has no letter or digit", name, n+1, line)
		}
		l.add(subs)
	}
	return nil
}

// add inserts a term given as sub-words.
func (l *flgList) add(subs []string) {
	node := int32(0)
	var prev rune
	for i, s := range subs {
		for j, r := range s {
			r = flgFold(r)
			if i == 0 && j == 0 && r < 1<<16 {
				l.first[r/64] |= 1 << (r % 64)
			}
			if i > 0 && j == 0 && flgNeedSpace(prev, r) {
				node = l.insert(node, ' ')
			}
			node = l.insert(node, r)
			prev = r
		}
	}
	if !l.terminal[node] {
		l.terminal[node] = true
		l.terms++
	}
	l.maxSubs = max(l.maxSubs, len(subs))
}

func (l *flgList) insert(node int32, r rune) int32 {
	e := flgEdge{node, r}
	if next, ok := l.edges[e]; ok {
		return next
	}
	next := int32(len(l.terminal))
	l.edges[e] = next
	l.terminal = append(l.terminal, false)
	return next
}

// longest returns the end (exclusive) of the longest term matching subs
// from i, or i when none does.
func (l *flgList) longest(subs []string, i int) int {
	best := i
	node := int32(0)
	var prev rune
	for j := i; j < len(subs) && j-i < l.maxSubs; j++ {
		for k, r := range subs[j] {
			r = flgFold(r)
			if j > i && k == 0 && flgNeedSpace(prev, r) {
				next, ok := l.edges[flgEdge{node, ' '}]
				if !ok {
					return best
				}
				node = next
			}
			next, ok := l.edges[flgEdge{node, r}]
			if !ok {
				return best
			}
			node = next
			prev = r
		}
		if l.terminal[node] {
			best = j + 1
		}
	}
	return best
}

// count returns the number of non-overlapping, longest-first matches.
func (l *flgList) count(subs []string) int {
	n := 0
	for i := 0; i < len(subs); {
		// Most sub-words start no term: look at the first character's bit
		// before the trie (inline for CJK, which folding leaves alone).
		r, ok := tuRune3(subs[i], 0)
		if !ok {
			r, _ = utf8.DecodeRuneInString(subs[i])
		}
		if r < 1<<16 {
			if r < 0x2e80 || r >= 0xa640 {
				r = flgFold(r)
			}
			if r < 1<<16 && l.first[r/64]&(1<<(r%64)) == 0 {
				i++
				continue
			}
		}
		if end := l.longest(subs, i); end > i {
			n++
			i = end
		} else {
			i++
		}
	}
	return n
}

// flgComputer computes the flagged_words signals.
type flgComputer struct {
	lists map[string]*flgList
	subs  []string // scratch: the current document's sub-words
}

// Compute implements Computer.
func (c *flgComputer) Compute(d *Doc, out []float64) {
	l, ok := c.lists[d.Lang]
	if !ok {
		l = c.lists["default"]
	}
	if l == nil {
		return // NaN: no list for this language
	}
	var words int
	c.subs = c.subs[:0]
	if d.Words != nil {
		for _, w := range d.Words {
			if flgPlainWord(w) {
				c.subs = append(c.subs, w)
				words++
				continue
			}
			n := len(c.subs)
			c.subs = flgSubwords(c.subs, w)
			if len(c.subs) > n {
				words++
			}
		}
	} else {
		c.subs = flgSplit(c.subs, d.Text)
		words = len(c.subs)
	}
	n := l.count(c.subs)
	out[0], out[1] = 0, float64(n)
	if words > 0 {
		out[0] = float64(n) / float64(words)
	}
	clear(c.subs) // drop references to the document's text
}

// flgSubwords appends the runs of letters, digits and marks of one word.
func flgSubwords(dst []string, w string) []string {
	if flgPlainWord(w) {
		return append(dst, w)
	}
	start := -1
	for i, r := range w {
		if flgWordRune(r) {
			if start < 0 {
				start = i
			}
		} else if start >= 0 {
			dst = append(dst, w[start:i])
			start = -1
		}
	}
	if start >= 0 {
		dst = append(dst, w[start:])
	}
	return dst
}

// flgPlainWord reports whether w is made of ASCII letters and digits and
// CJK Unified Ideographs (U+4E00–U+9FFF) only, read from the bytes: nearly
// every jieba word is, and is then its only sub-word. False says nothing.
// Words of one or two ideographs, most of them, are checked without a
// loop, whose exit after a varying count would be mispredicted.
func flgPlainWord(w string) bool {
	switch {
	case len(w) == 3:
		return flgHan(w, 0)
	case len(w) == 6:
		return flgHan(w, 0) && flgHan(w, 3)
	}
	for i := 0; i < len(w); {
		switch c := w[i]; {
		case c < utf8.RuneSelf:
			if l := c | 0x20; (l < 'a' || l > 'z') && (c < '0' || c > '9') {
				return false
			}
			i++
		case i+2 < len(w) && flgHan(w, i):
			i += 3
		default:
			return false
		}
	}
	return w != ""
}

// flgHan reports whether w[i:i+3], which must be in range, is a character
// of U+4E00–U+9FFF.
func flgHan(w string, i int) bool {
	c, c1, c2 := w[i], w[i+1], w[i+2]
	return c >= 0xe4 && c <= 0xe9 && c1&0xc0 == 0x80 && c2&0xc0 == 0x80 && (c > 0xe4 || c1 >= 0xb8)
}

// flgSplit is the fallback word split: every character of a script written
// without spaces (Han, kana, Thai …) is a word; other words are runs of
// letters, digits and marks.
func flgSplit(dst []string, text string) []string {
	start := -1
	for i, r := range text {
		switch {
		case flgContinuous(r):
			if start >= 0 {
				dst = append(dst, text[start:i])
				start = -1
			}
			dst = append(dst, text[i:i+utf8.RuneLen(r)])
		case flgWordRune(r):
			if start < 0 {
				start = i
			}
		default:
			if start >= 0 {
				dst = append(dst, text[start:i])
				start = -1
			}
		}
	}
	if start >= 0 {
		dst = append(dst, text[start:])
	}
	return dst
}

// flgWordRune reports a letter, digit or mark.
func flgWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	if 0x4E00 <= r && r <= 0x9FFF {
		return true
	}
	return unicode.In(r, unicode.L, unicode.N, unicode.M)
}

// flgContinuous reports a letter of a script written without spaces
// between words.
func flgContinuous(r rune) bool {
	switch {
	case r < 0x0E00 || 0xAC00 <= r && r < 0xD7B0: // below Thai; Hangul
		return false
	case 0x4E00 <= r && r <= 0x9FFF: // CJK Unified Ideographs
		return true
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai,
		unicode.Lao, unicode.Khmer, unicode.Myanmar, unicode.Tibetan)
}

// flgNeedSpace reports whether two adjacent sub-words join with a space.
func flgNeedSpace(a, b rune) bool { return !flgContinuous(a) && !flgContinuous(b) }

// flgFold lower-cases r and maps full-width ASCII to ASCII.
func flgFold(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	if 0xFF01 <= r && r <= 0xFF5E {
		r -= 0xFEE0
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	if 0x2E80 <= r && r < 0xA640 || 0xAC00 <= r && r < 0xD7B0 {
		return r // CJK, kana, Hangul, Yi: no case
	}
	return unicode.ToLower(r)
}
