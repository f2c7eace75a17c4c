package filters

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// C4 is the c4 family: the C4 clean-up rules (Raffel et al. 2020) as
// datatrove's C4QualityFilter applies them (filters-reference §3), made
// CJK-aware.
//
// C4 edits documents: it removes lines and keeps the rest. A filter here
// only keeps or drops whole documents, so the line rules become signals:
// the share of lines C4 would remove (removed_lines_frac, with a threshold
// of our own, see Defaults), and the sentences in the lines it would keep.
// The document-level rules (lorem ipsum, "{", fewer than 5 sentences) are
// C4's own. A document that passes is kept whole, its navigation and cookie
// lines included; cutting them would take an editing stage. The terminal
// punctuation rule is applied, as in C4 and datatrove's default
// (FineWeb ran C4 without it, filter_no_terminal_punct=False): without it
// menu lines of three words count as sentences and C4 drops no list page.
//
// Lines are Python splitlines() lines, trimmed; blank lines are neither
// removed nor kept (C4 drops them silently). Per line, in C4's order:
//
//  1. a word longer than 1000 characters: removed;
//  2. citation marks [1], [], [edit], [citation needed] are deleted;
//  3. a line that does not end a sentence is removed (see below);
//  4. fewer than 3 words: removed;
//  5. "lorem ipsum" (ASCII case-insensitive): lorem_ipsum = 1;
//  6. "javascript": removed (javascript_lines);
//  7. "{": curly_bracket = 1;
//  8. "terms of use", "privacy policy", "cookie policy", "uses cookies",
//     "use of cookies", "use cookies": removed (policy_lines);
//  9. else kept: its sentences are added to sentences.
//
// Rules 5 and 7 only see lines that survived 1–4, as in C4. datatrove stops
// at the first document-level hit; here every line is still counted, so all
// signals exist for every document.
//
// CJK-aware words (rules 1 and 4). C4 splits lines on white space, which
// makes a Chinese line one "word": every Chinese line would fail rule 4 and
// every paragraph over 1000 characters rule 1. A line holding a Han or kana
// character counts one word per Han or kana character plus one per run of
// other letters, digits and marks (punctuation is no word), so 你好吗？ has
// three words and a long paragraph no long word. Other lines are split on
// white space, as C4 does. This count does not use Doc.Words: rule 4 is a
// length floor, and counting characters keeps c4's signals the same with
// or without the segment stage (a three-character line is two jieba words).
//
// CJK-aware line ends (rule 3). C4 keeps a line that ends with . ? ! " or '
// and not with "...". That set has no Chinese full stop, so it is extended:
// a line also ends a sentence when, after trailing closing quotes and
// brackets (” ’ 」 』 ） 》 …, tuIsCloser), its last character is a sentence
// end (Unicode Sentence_Terminal: 。 ！ ？ ． ｡ and the other scripts'
// full stops). An ellipsis does not end a sentence (“……” at the end of a
// line is as much a cut-off teaser as "..."), so a line ending in … or ...
// is removed, as C4 removes "...".
//
// Sentences (rule 9) are counted by c4ScanLine: pieces of the line
// ended by . ! ? 。 ！ ？ (and other sentence ends) plus the closers after
// them, holding at least one letter or digit. C4 used NLTK punkt for
// English and datatrove uses spaCy's sentencizer for Chinese; this counter
// splits like the sentencizer and counts a line without a sentence end as
// one sentence.
//
// Signals: sentences, lorem_ipsum (0/1), curly_bracket (0/1),
// javascript_lines, policy_lines (lines removed by rules 6 and 8; no rule of
// their own, they count in removed_lines_frac), removed_lines_frac (lines C4
// would remove / non-blank lines; NaN without one).
var C4 = &Family{
	Name: "c4",
	Doc:  "C4 clean-up rules (datatrove C4QualityFilter, CJK-aware words and sentence ends) as document signals: lorem ipsum, curly brackets, sentences in kept lines, share of lines C4 would remove",
	Signals: []Signal{
		{Name: "sentences", Doc: "sentences in the lines C4 would keep"},
		{Name: "lorem_ipsum", Doc: "1 if a line that survives C4's length and punctuation rules holds 'lorem ipsum', else 0"},
		{Name: "curly_bracket", Doc: "1 if a line that survives C4's length and punctuation rules holds '{', else 0"},
		{Name: "javascript_lines", Doc: "lines C4 removes for holding 'javascript'"},
		{Name: "policy_lines", Doc: "lines C4 removes for a terms-of-use, privacy or cookie phrase"},
		{Name: "removed_lines_frac", Doc: "share of non-blank lines C4 would remove (long word, no sentence end, < 3 words, javascript, policy)"},
	},
	Rules: []Rule{
		{Key: "max_lorem_ipsum", Signal: "lorem_ipsum"},
		{Key: "max_curly_bracket", Signal: "curly_bracket"},
		{Key: "min_sentences", Signal: "sentences"},
		{Key: "max_removed_lines_frac", Signal: "removed_lines_frac"},
	},
	NewComputer: func() Computer { return &c4Computer{} },
	// C4's own rules are the same for every language. max_removed_lines_frac
	// is ours (C4 cuts the lines instead), set from TestFamilyDropRates:
	// clean text stays below it (text-clean en: max 0.82; zh-laws: 99th
	// percentile 0.70; zh-prose: 99th percentile 0.91, hard-wrapped
	// works whose lines break mid-sentence — 1 of 298 dropped, 朝花夕拾/范爱农
	// at 0.95), while it is the first failing rule for 41 of 123 zh and 48
	// of 111 en text-junk pages (medians 0.885 and 0.885).
	Defaults: map[string]map[string]float64{
		"default": {
			"max_lorem_ipsum":        0,
			"max_curly_bracket":      0,
			"min_sentences":          5,
			"max_removed_lines_frac": 0.9,
		},
		"zh": {
			"max_lorem_ipsum":        0,
			"max_curly_bracket":      0,
			"min_sentences":          5,
			"max_removed_lines_frac": 0.9,
		},
	},
}

const (
	c4Sentences = iota
	c4Lorem
	c4Curly
	c4JavaScript
	c4Policy
	c4RemovedFrac
)

// c4MaxWord is C4's longest allowed word, in characters.
const c4MaxWord = 1000

// c4MinWords is C4's minimum number of words in a kept line.
const c4MinWords = 3

var c4PolicyPhrases = []string{"terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"}

type c4Computer struct {
	lines   []tuSpan
	lower   []byte
	noCites []byte
}

func (c *c4Computer) Compute(d *Doc, out []float64) {
	text := d.Text
	c.lines = tuSplitLines(c.lines[:0], text)
	var sentences, lorem, curly, js, policy, nonBlank, removed int
	for _, l := range c.lines {
		line := text[l.start:l.end]
		s := tuTrim(line)
		if s == "" {
			continue
		}
		nonBlank++
		kept := s // without citation marks
		if strings.IndexByte(s, '[') >= 0 {
			kept, _ = c.stripCitations(s)
		}
		if !c4EndsSentence(kept) {
			removed++ // whatever its words: no need to count them
			continue
		}
		scan := c4ScanLine(s) // words are counted with the marks, as C4 does
		if scan.longest > c4MaxWord || scan.words < c4MinWords {
			removed++
			continue
		}
		if len(kept) != len(s) {
			words := scan.words
			scan = c4ScanLine(kept)
			scan.words = words
		}
		s = kept
		if scan.asciiLetter {
			c.lower = c4LowerASCII(c.lower[:0], s)
			if bytes.Contains(c.lower, []byte("lorem ipsum")) {
				lorem = 1
			}
			if bytes.Contains(c.lower, []byte("javascript")) {
				js++
				removed++
				continue
			}
		}
		if strings.IndexByte(s, '{') >= 0 {
			curly = 1
		}
		if scan.asciiLetter && c4HasPolicy(c.lower) {
			policy++
			removed++
			continue
		}
		sentences += scan.sentences
	}
	out[c4Sentences] = float64(sentences)
	out[c4Lorem] = float64(lorem)
	out[c4Curly] = float64(curly)
	out[c4JavaScript] = float64(js)
	out[c4Policy] = float64(policy)
	out[c4RemovedFrac] = tuRatio(removed, nonBlank)
}

// c4Line is what c4ScanLine finds in a trimmed line.
type c4Line struct {
	// words is the number of words, longest the length of the longest in
	// characters: white-space fields (Python split()), or, for a line
	// holding a Han or kana character, one word per Han or kana character
	// plus one per run of other letters, digits and marks (punctuation is
	// no word).
	words, longest int
	// sentences are the pieces of the line ended by a run of sentence ends
	// (tuIsSentenceEnd) and the closers after it, holding a letter or a
	// digit. An ASCII '.' ends a sentence only before white space, a
	// closer, another sentence end, a non-ASCII character or the end of
	// the line, so 3.14, U.S.A and example.com do not split. A line without
	// a sentence end is one sentence. This stands in for datatrove's
	// sent_tokenize (NLTK punkt for English, spaCy's sentencizer for
	// Chinese): it splits 。！？ as the sentencizer does and, unlike punkt,
	// also after abbreviations such as "Dr.".
	sentences   int
	asciiLetter bool // the line holds an ASCII letter
}

// c4ScanLine counts a line's words and sentences in one pass over its
// characters.
func c4ScanLine(s string) c4Line {
	var fields, fieldMax, field int // white-space fields
	var cjk bool
	var words, wordMax, word int // CJK-aware words
	var sentences int
	var content bool // a letter or digit since the last sentence end
	var inEnds bool  // inside a run of sentence ends and the closers after it
	var ascii bool
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r < utf8.RuneSelf {
			ascii = ascii || r|0x20 >= 'a' && r|0x20 <= 'z'
		} else if r3, ok := tuRune3(s, i); ok {
			r, size = r3, 3
		} else {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		c := tuClass(r)
		if c&tuCSpace != 0 {
			if field > 0 {
				fields++
				fieldMax = max(fieldMax, field)
				field = 0
			}
		} else {
			field++
		}
		switch {
		case c&tuCCJK != 0:
			cjk = true
			words++
			wordMax = max(wordMax, 1)
			fallthrough
		case c&(tuCLetter|tuCNumber|tuCMark) == 0:
			if word > 0 {
				words++
				wordMax = max(wordMax, word)
				word = 0
			}
		default:
			word++
		}
		if inEnds && c&(tuCSentEnd|tuCCloser) != 0 {
			continue
		}
		inEnds = false
		switch {
		case c&tuCSentEnd == 0:
			content = content || c&(tuCLetter|tuCNumber) != 0
		case r == '.' && i < len(s) && s[i] < utf8.RuneSelf && tuBMP[s[i]]&(tuCSpace|tuCCloser|tuCSentEnd) == 0:
			// 3.14, U.S.A: no sentence end.
		default:
			inEnds = true
			if content {
				sentences++
				content = false
			}
		}
	}
	if field > 0 {
		fields++
		fieldMax = max(fieldMax, field)
	}
	if content {
		sentences++
	}
	if !cjk {
		return c4Line{words: fields, longest: fieldMax, sentences: sentences, asciiLetter: ascii}
	}
	if word > 0 {
		words++
		wordMax = max(wordMax, word)
	}
	return c4Line{words: words, longest: wordMax, sentences: sentences, asciiLetter: ascii}
}

// stripCitations deletes C4's citation marks: \[\d*]|\[edit]|\[citation
// needed]; false when s has none.
func (c *c4Computer) stripCitations(s string) (string, bool) {
	out := c.noCites[:0]
	for i := 0; i < len(s); {
		if s[i] == '[' {
			if n := c4CitationLen(s[i:]); n > 0 {
				i += n
				continue
			}
		}
		out = append(out, s[i])
		i++
	}
	c.noCites = out
	if len(out) == len(s) {
		return s, false
	}
	return string(out), true
}

// c4CitationLen is the length of the citation mark at the start of s, or 0.
func c4CitationLen(s string) int {
	for _, m := range [...]string{"[edit]", "[citation needed]"} {
		if strings.HasPrefix(s, m) {
			return len(m)
		}
	}
	j := 1
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j < len(s) && s[j] == ']' {
		return j + 1
	}
	return 0
}

// c4EndsSentence is C4's line-end rule, CJK-aware (see C4).
func c4EndsSentence(s string) bool {
	if s == "" {
		return false
	}
	switch s[len(s)-1] {
	case '.', '?', '!', '"', '\'':
		if !strings.HasSuffix(s, "...") {
			return true
		}
	}
	t := tuTrimClosers(s)
	r, _ := utf8.DecodeLastRuneInString(t)
	return r != utf8.RuneError && tuIsSentenceEnd(r) && !strings.HasSuffix(t, "...")
}

// c4LowerASCII appends s with ASCII letters lowercased to dst.
func c4LowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func c4HasPolicy(lower []byte) bool {
	for _, p := range c4PolicyPhrases {
		if bytes.Contains(lower, []byte(p)) {
			return true
		}
	}
	return false
}
