package stages

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizer holds the normalize stage's resolved options. It is read-only
// after construction and shared by all workers.
type normalizer struct {
	form       norm.Form
	normBit    normClass // clNotNFKC, clNotNFC, or 0 for form none
	rewriteBit normClass // classes that send a document through rewrite
	fullwidth  bool
	halfwidth  bool
	controls   bool
	whitespace bool

	t2s  string        // auto, always or off
	conv *t2sConverter // nil when t2s is off
	tab  []normClass   // the class table, with conv's t2s bits

	mojibake      string // flag, repair or off
	mojiThreshold float64
}

// normSteps records which steps changed a document.
type normSteps uint16

const (
	stInvalidUTF8 normSteps = 1 << iota
	stMojibakeRepaired
	stControls
	stFullwidth
	stHalfwidthPunct
	stForm
	stT2S
	stWhitespace
	// stMojiRisk is rewrite's note that width mapping wrote something
	// mojibake evidence can be made of: a Latin-1 sign (￥ → ¥), or a space
	// after "Ã" (U+3000). Not a step.
	stMojiRisk
)

// normResult is what normalizing one document produced.
type normResult struct {
	text       string
	steps      normSteps
	mojibake   float64 // mojibake score (of the repaired text when repaired)
	flagged    bool    // score at or above the threshold before any repair
	t2sChecked bool    // the text went through the converter
}

// apply normalizes one document. The steps run in this order, each only
// when the scan says it has something to do:
//
//  1. invalid UTF-8 bytes become U+FFFD (strings.ToValidUTF8: one per run
//     of bad bytes; encoded surrogates are invalid UTF-8 too);
//  2. mojibake is scored, and repaired when asked and unambiguous, before
//     any other step removes the C1 controls the score relies on;
//  3. one rewrite pass removes controls, maps width and applies the
//     normalization form;
//  4. Traditional → Simplified, after normalization so compatibility
//     ideographs are unified first;
//  5. whitespace cleanup last, since earlier steps can leave a space at a
//     line end.
//
// Every step's output is stable under every earlier step, so apply is
// idempotent (FuzzNormalize checks it). When nothing changes, the input
// string itself is returned and nothing is allocated; when only the ends
// change (a final line feed), the result is a substring.
func (n *normalizer) apply(s string) normResult {
	var res normResult
	sc := n.scan(s)
	if sc.invalid {
		s = strings.ToValidUTF8(s, "\uFFFD")
		res.steps |= stInvalidUTF8
		sc = n.scan(s)
	}
	// Mojibake first: the rewrite removes the C1 controls it relies on.
	// The rewrite can also bring mojibake to light (NFKC turns "â€℃" into
	// "â€°C", which is ‰ misread; a removed zero-width space joins "Ã" and
	// "©"), so with repair the two repeat until neither changes.
	for round := 0; ; round++ {
		if n.mojibake != mojiOff {
			score := mojibakeScore(s, &sc)
			repaired := false
			if round == 0 {
				res.flagged = score >= n.mojiThreshold
			}
			if score >= n.mojiThreshold && n.mojibake == mojiRepair {
				if fixed, fixedScore, ok := n.repairMojibake(s, score); ok {
					s, score, repaired = fixed, fixedScore, true
					res.steps |= stMojibakeRepaired
					sc = n.scan(s)
				}
			}
			res.mojibake = score
			if round > 0 && !repaired {
				break
			}
		}
		if !sc.rewrite || round == maxRewriteRounds {
			break
		}
		out, st := n.rewrite(s)
		if st == 0 {
			break
		}
		s = out
		res.steps |= st
		if st&(stControls|stForm|stMojiRisk) == 0 {
			// Width mapping keeps every count and whitespace verdict of
			// the scan (U+3000 was white space already), and what it
			// writes is ASCII, which is never part of mojibake.
			break
		}
		res.steps &^= stMojiRisk
		sc = n.scan(s)
		if n.mojibake != mojiRepair {
			break
		}
	}
	if n.wantT2S(&sc) {
		res.t2sChecked = true
		if out, changed := n.conv.convert(s); changed {
			s = out
			res.steps |= stT2S
		}
	}
	if sc.ws {
		out := trimDocEnds(s)
		if sc.wsInner {
			out = cleanWhitespace(s, !sc.otherEnds)
		}
		if out != s {
			s = out
			res.steps |= stWhitespace
		}
	}
	res.text = s
	return res
}

// maxRewriteRounds bounds apply's mojibake–rewrite rounds.
const maxRewriteRounds = 3

// docScan summarises one pass over a document: which steps have work, and
// the counts the t2s gate and the mojibake score need.
type docScan struct {
	invalid   bool // invalid UTF-8
	rewrite   bool // a character for the rewrite pass
	ws        bool // a whitespace rule applies
	wsInner   bool // ... between the first and the last non-blank character (else trimming the ends is enough)
	otherEnds bool // CR, U+2028 or U+2029: lines do not end at LF only

	han        int  // Han characters
	kanaHangul int  // kana and hangul
	strictTrad bool // a Traditional-only character (t2s auto)
	trigger    bool // a character the t2s chain may change

	c1        bool  // C1 controls
	fffd      bool  // U+FFFD
	mojiPairs uint8 // code pages (bit k: sbCodecs()[k]) in which a lead byte is followed by a continuation byte
	gbkMoji   int   // characters of gbkMojiSet
}

// ASCII byte kinds for the scan.
const (
	akPlain   = iota // printable, not white space
	akLF             // line feed
	akSpace          // space or tab
	akCR             // carriage return
	akControl        // other C0 controls and DEL
)

var asciiKind = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		switch {
		case c == '\n':
			t[c] = akLF
		case c == ' ' || c == '\t':
			t[c] = akSpace
		case c == '\r':
			t[c] = akCR
		case c < 0x20 || c == 0x7F:
			t[c] = akControl
		}
	}
	return t
}()

// scan looks at every character once: a run of printable ASCII costs a
// table load per byte, any other character a class load, three additions
// and a few bit operations. It is all the work a document needing no
// change costs, so it keeps its state in locals and decodes the
// three-byte form of UTF-8 (all of CJK) inline.
func (n *normalizer) scan(s string) docScan {
	tab := (*[normTableSize]normClass)(n.tab)
	var sc docScan
	var (
		all        normClass // every class seen, or-ed
		han, kh    int
		gbk        int
		prevLeads  normClass
		prevAtilde bool // "Ã" then a space: à whose no-break space became a space
		pairs      normClass
	)
	// Whitespace: a line is blank while it holds only horizontal white
	// space. An issue (trailing space, a second blank line, CR, U+2028)
	// after the first non-blank character becomes inner once more
	// non-blank text follows; before it, or at the end, trimming the
	// ends suffices.
	var (
		content, lineBlank, lastSpace = false, true, false
		issue, inner, ws              bool
		blanks                        int // blank lines in a row
	)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch asciiKind[c] {
			case akPlain:
				i++
				for i < len(s) && s[i] < utf8.RuneSelf && asciiKind[s[i]] == akPlain {
					i++
				}
				inner = inner || issue
				content, lineBlank, lastSpace = true, false, false
			case akLF:
				if !content {
					ws = true // a blank line before the text
				} else if lastSpace || lineBlank && blanks > 0 {
					issue = true
				}
				if lineBlank {
					blanks++
				} else {
					blanks = 0
				}
				lineBlank, lastSpace = true, false
				i++
			case akSpace:
				if c == ' ' && prevAtilde {
					pairs |= 1 // Windows-1252
				}
				lastSpace = true
				i++
			case akCR:
				issue = issue || content
				ws, sc.otherEnds = true, true
				i++
			default: // a control: content, and rewrite's when removing
				sc.rewrite = sc.rewrite || n.controls
				inner = inner || issue
				content, lineBlank, lastSpace = true, false, false
				i++
			}
			prevLeads, prevAtilde = 0, false
			continue
		}
		var r rune
		if c&0xF0 == 0xE0 && i+2 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 {
			r = rune(c&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F)
			if r < 0x800 || r >= 0xD800 && r <= 0xDFFF {
				sc.invalid = true // overlong or a surrogate
				i++
				continue
			}
			i += 3
		} else if c >= 0xC2 && c < 0xE0 && i+1 < len(s) && s[i+1]&0xC0 == 0x80 {
			r = rune(c&0x1F)<<6 | rune(s[i+1]&0x3F)
			i += 2
		} else {
			var size int
			r, size = utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				sc.invalid = true
				i++
				continue
			}
			i += size
		}
		var cl normClass
		if r < normTableSize {
			cl = tab[r]
		} else {
			cl = classifyRune(r, nil)
			if n.conv != nil && n.conv.mayChange(r) {
				cl |= clTrigger
			}
		}
		all |= cl
		han += int(cl >> shHan & 1)
		kh += int(cl>>shKana&1 | cl>>shHangul&1)
		gbk += int(cl >> shGBKMoji & 1)
		pairs |= prevLeads & (cl >> clMojiCont)
		prevLeads = cl >> clMojiLead & clMojiMask
		prevAtilde = r == 'Ã'
		sc.fffd = sc.fffd || r == utf8.RuneError
		if cl&(clSpace|clLineSep) == 0 {
			inner = inner || issue
			content, lineBlank, lastSpace = true, false, false
		} else if cl&clSpace != 0 {
			lastSpace = true
		} else {
			issue = issue || content
			ws, sc.otherEnds = true, true
		}
	}
	sc.han, sc.kanaHangul, sc.gbkMoji = han, kh, gbk
	sc.rewrite = sc.rewrite || all&n.rewriteBit != 0
	sc.trigger = all&clTrigger != 0
	sc.strictTrad = all&clStrictTrad != 0
	sc.c1 = all&clC1 != 0
	sc.mojiPairs = uint8(pairs & clMojiMask)
	// White space at the end (or a text of white space only) is trimmed.
	endsInText := len(s) > 0 && !lineBlank && !lastSpace
	sc.ws = n.whitespace && (ws || issue || len(s) > 0 && !endsInText)
	sc.wsInner = inner
	return sc
}

// decodeAt decodes the non-ASCII rune at s[i], with the three-byte form
// (all of CJK) inline.
func decodeAt(s string, i int) (rune, int) {
	if r, size := decode3(s, i); size > 0 {
		return r, size
	}
	return utf8.DecodeRuneInString(s[i:])
}

// decode3 decodes a valid three-byte UTF-8 sequence at s[i], or returns
// size 0. It is small enough to be inlined into the loops.
func decode3(s string, i int) (rune, int) {
	if i+2 >= len(s) || s[i]&0xF0 != 0xE0 || s[i+1]&0xC0 != 0x80 || s[i+2]&0xC0 != 0x80 {
		return 0, 0
	}
	r := rune(s[i]&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F)
	if r < 0x800 || r>>11 == 0xD800>>11 { // overlong, or a surrogate
		return 0, 0
	}
	return r, 3
}

// maxKanaHangulShare is the share of kana and hangul among CJK characters
// above which t2s auto takes a document for Japanese or Korean and leaves
// its kanji/hanja alone (後で must not become 后で). Japanese prose has
// 30–70% kana; Chinese quoting a Japanese name has a few.
const maxKanaHangulShare = 0.05

// wantT2S applies the t2s option: always converts any text the chain may
// change; auto only Chinese text (kana and hangul below
// maxKanaHangulShare) holding at least one Traditional-only character (a
// TSCharacters key that is not among its own Simplified forms: 國 髮 後,
// not 乾 於 著), so Simplified text quoting 乾隆 or 於 stays as it is.
func (n *normalizer) wantT2S(sc *docScan) bool {
	switch {
	case n.conv == nil || !sc.trigger:
		return false
	case n.t2s == t2sAlways:
		return true
	}
	cjk := sc.han + sc.kanaHangul
	return sc.strictTrad && float64(sc.kanaHangul) <= maxKanaHangulShare*float64(cjk)
}

// rewrite is the per-character pass: it removes controls, maps width and
// applies the normalization form, and returns s itself (and no steps)
// when nothing changed. Unchanged stretches are copied whole.
func (n *normalizer) rewrite(s string) (string, normSteps) {
	tab := (*[normTableSize]normClass)(normTables())
	var out []byte // nil until the first change
	var st normSteps
	span := 0 // s[span:i] is unchanged input not yet in out
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if n.controls && asciiKind[c] == akControl {
				out = appendSpan(out, s, span, i)
				span = i + 1
				st |= stControls
			}
			i++
			continue
		}
		r, size := decode3(s, i)
		if size == 0 {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		var cl normClass
		if r < normTableSize {
			cl = tab[r]
		} else {
			cl = classifyRune(r, nil)
		}
		if cl&n.rewriteBit == 0 {
			i += size
			continue
		}
		out = appendSpan(out, s, span, i)
		switch {
		case n.controls && cl&clRemove != 0:
			st |= stControls
		case n.controls && cl&clJoiner != 0:
			if prev, _ := utf8.DecodeLastRune(out); len(out) > 0 && joinerKept(prev) {
				out = append(out, s[i:i+size]...)
			} else {
				st |= stControls
			}
		case cl&clWidthAlnum != 0:
			b := byte(r - 0xFEE0)
			if r == 0x3000 {
				b = ' '
				if k := len(out); k >= 2 && out[k-2] == 0xC3 && out[k-1] == 0x83 { // "Ã"
					st |= stMojiRisk
				}
			}
			out = append(out, b)
			st |= stFullwidth
		case cl&clWidthPunct != 0:
			// NFKC's own mapping: ，→, …→... ￥→¥. Width characters are
			// starters that combine with nothing before them, so appending
			// leaves out's tail alone.
			if out = norm.NFKC.AppendString(out, s[i:i+size]); out[len(out)-1] >= utf8.RuneSelf {
				st |= stMojiRisk
			}
			st |= stHalfwidthPunct
		default: // the normalization form
			j := n.normSpan(s, i+size)
			if n.appendForm(&out, s[i:j]) {
				st |= stForm
			}
			i, span = j, j
			continue
		}
		i += size
		span = i
	}
	if st&^stMojiRisk == 0 {
		return s, 0
	}
	return string(appendSpan(out, s, span, len(s))), st
}

// appendSpan appends s[from:to] to out, allocating out for the whole
// result on first use.
func appendSpan(out []byte, s string, from, to int) []byte {
	if out == nil {
		out = make([]byte, 0, len(s)+len(s)/16+8)
	}
	return append(out, s[from:to]...)
}

// appendForm appends seg normalized and reports whether that changed it.
// The form merges seg with the end of *out (a combining mark composes with
// the letter before it), which norm.Form.Append allows only when *out is
// normal; a width character kept as it is (！) is not, so after one seg is
// normalized on its own.
func (n *normalizer) appendForm(out *[]byte, seg string) bool {
	before := len(*out)
	prev, _ := utf8.DecodeLastRune(*out)
	if before > 0 && normClassOf(prev)&(clWidthAlnum|clWidthPunct) != 0 {
		*out = append(*out, n.form.String(seg)...)
	} else {
		*out = n.form.AppendString(*out, seg)
	}
	return len(*out) != before+len(seg) || string((*out)[before:]) != seg
}

// normSpan returns the end of the run of characters from i on that the
// normalization form may change, so the form sees them together.
func (n *normalizer) normSpan(s string, i int) int {
	for i < len(s) {
		r, size := decodeAt(s, i)
		cl := normClassOf(r)
		if cl&n.normBit == 0 || n.controls && cl&(clRemove|clJoiner) != 0 {
			break
		}
		i += size
	}
	return i
}

// joinerKept decides whether a ZWNJ or ZWJ after prev carries meaning:
// after a letter or mark of a script that uses joiners (Arabic, Persian,
// the Indic scripts…), after an emoji or emoji modifier, or after another
// joiner. After ASCII, Latin, Han, kana or hangul it is an invisible
// leftover, deleted.
func joinerKept(prev rune) bool {
	if prev < utf8.RuneSelf {
		return false
	}
	if normClassOf(prev)&(clHan|clKana|clHangul) != 0 || unicode.Is(unicode.Latin, prev) {
		return false
	}
	switch prev {
	case 0x200C, 0x200D, 0xFE0F:
		return true
	}
	return unicode.IsLetter(prev) || unicode.In(prev, unicode.Mn, unicode.Mc, unicode.So, unicode.Sk)
}

// cleanWhitespace applies the whitespace rules:
//
//   - CRLF, CR, U+2028 and U+2029 end lines and become LF;
//   - horizontal white space (space, tab, Unicode Zs) at the end of a line
//     is removed; indentation and runs inside a line are kept;
//   - a line that is then empty is blank; blank lines before the first
//     non-blank line and after the last are removed, and a run of blank
//     lines between two non-blank ones becomes one blank line;
//   - the text does not end with a line feed.
//
// onlyLF says s has no CR, U+2028 or U+2029, so lines are cut at LF alone.
func cleanWhitespace(s string, onlyLF bool) string {
	out := make([]byte, 0, len(s))
	blank := false // a blank line is pending between two non-blank ones
	for len(s) > 0 {
		line, rest := cutLine(s, onlyLF)
		s = rest
		line = strings.TrimRightFunc(line, isHSpace)
		if line == "" {
			blank = len(out) > 0
			continue
		}
		if len(out) > 0 {
			out = append(out, '\n')
			if blank {
				out = append(out, '\n')
			}
		}
		out = append(out, line...)
		blank = false
	}
	return string(out)
}

// trimDocEnds is cleanWhitespace for a text whose only whitespace issues
// lie before its first or after its last non-blank character: it removes
// the blank lines at the start (keeping the first line's indentation) and
// all white space at the end, by slicing.
func trimDocEnds(s string) string {
	end := len(s)
	for end > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:end])
		if !isHSpace(r) && !isLineEnd(r) {
			break
		}
		end -= size
	}
	start := 0
	for i := 0; i < end; {
		r, size := utf8.DecodeRuneInString(s[i:])
		if isLineEnd(r) {
			start = i + size
		} else if !isHSpace(r) {
			break
		}
		i += size
	}
	return s[start:end]
}

func isLineEnd(r rune) bool { return r == '\n' || r == '\r' || r == 0x2028 || r == 0x2029 }

// cutLine splits s after its first line, returning the line without its
// terminator (LF, CRLF, CR, U+2028 or U+2029; LF alone when onlyLF).
func cutLine(s string, onlyLF bool) (line, rest string) {
	if onlyLF {
		line, rest, _ = strings.Cut(s, "\n")
		return line, rest
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n':
			return s[:i], s[i+1:]
		case c == '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				return s[:i], s[i+2:]
			}
			return s[:i], s[i+1:]
		case c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9):
			return s[:i], s[i+3:]
		}
	}
	return s, ""
}

func isHSpace(r rune) bool {
	return r == ' ' || r == '\t' || r >= utf8.RuneSelf && unicode.Is(unicode.Zs, r)
}
