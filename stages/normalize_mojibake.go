package stages

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// Mojibake: text decoded with the wrong encoding. The score is the share
// of a document's non-ASCII characters explained as damage:
//
//   - UTF-8 read as a single-byte code page ("Ã©" for é, "â€™" for ’,
//     "ä¸\u008d" for 不, "Ð¿Ñ€Ð¸" for при, "РїСЂРё" for при): runs of
//     characters whose bytes in Windows-1252, -1251, -1250 or ISO-8859-2
//     form a UTF-8 sequence that decodes to a character plausible for that
//     misreading (so "NESTLÉ®", „Straße“ and "ВІКІ" are not sequences: their
//     bytes decode to IPA, NKo and Latin-1 symbols);
//   - Windows-1252 read as Latin-1: C1 controls, which clean text never has;
//   - anything read as UTF-8 with replacement (GBK, Big5): U+FFFD;
//   - UTF-8 Chinese read as GBK (鍙 鐨 锛 銆 …, 锟斤拷): when most Han
//     characters are of gbkMojiSet, the text is encoded back to GBK; the
//     share of its bytes that form valid UTF-8 is the share of damage,
//     provided what they decode to is ordinary Chinese.
//
// Clean text scores exactly 0 nearly always: the rates measured on the
// shared corpora are in normalize_mojibake_test.go.

// sbCodec is a single-byte code page that UTF-8 gets misread as.
type sbCodec struct {
	name string
	// low and high map the code page's characters for 0x80–0xFF to their
	// bytes (0 in low: none), and C1 controls to their own value where
	// newSBCodec says; see byteOf.
	low  [0x500]byte
	high map[rune]byte
	// leadOK marks the lead bytes that begin some believed sequence (for
	// Windows-1251 only Р С Т п в: Cyrillic and punctuation), so the scan
	// counts no pair for the others.
	leadOK [256]bool
	// two gives the strength (seqStrong, seqWeak or seqNone) of a
	// two-byte UTF-8 character read through this code page.
	two func(r rune) int
	// wide: three-byte characters beyond punctuation and symbols (CJK,
	// Indic…) and four-byte ones are believed too. Only for Windows-1252,
	// whose leads for them (ä å æ ç è é) rarely meet two continuation
	// characters in real text; the Cyrillic and Central European letters
	// of the other code pages do ("надії": д і ї = U+4CFF).
	wide bool
}

var sbCodecs = sync.OnceValue(func() []*sbCodec {
	return []*sbCodec{
		newSBCodec("windows-1252", charmap.Windows1252, twoByteWestern, true, true),
		newSBCodec("windows-1251", charmap.Windows1251, twoByteCyrillic, false, false),
		newSBCodec("windows-1250", charmap.Windows1250, twoByteCentral, false, false),
		newSBCodec("iso-8859-2", charmap.ISO8859_2, twoByteCentral, false, false),
	}
})

func newSBCodec(name string, cm *charmap.Charmap, two func(rune) int, wide, latin1 bool) *sbCodec {
	c := &sbCodec{name: name, high: map[rune]byte{}, two: two, wide: wide}
	set := func(r rune, b byte) {
		if r < rune(len(c.low)) {
			c.low[r] = b
		} else {
			c.high[r] = b
		}
	}
	for b := 0x80; b <= 0xFF; b++ {
		if r := cm.DecodeByte(byte(b)); r != utf8.RuneError && r >= 0x80 {
			set(r, byte(b))
		}
	}
	for b := 0x80; b <= 0x9F; b++ {
		// A C1 control stands for its own byte where the code page leaves
		// the byte undefined, and always for Windows-1252, whose bytes are
		// as often read as Latin-1 (ISO-8859-2 has C1 controls itself).
		_, taken := c.byteOf(rune(b))
		if !taken && (latin1 || cm.DecodeByte(byte(b)) == utf8.RuneError) {
			set(rune(b), byte(b))
		}
	}
	for b := 0xC2; b <= 0xF4; b++ {
		c.leadOK[b] = c.leadBelieved(byte(b))
	}
	return c
}

// leadBelieved reports whether some continuation bytes after lead decode
// to a character this misreading is believed for.
func (c *sbCodec) leadBelieved(lead byte) bool {
	var lo, n rune
	switch {
	case lead < 0xE0:
		lo, n = rune(lead&0x1F)<<6, 1<<6
	case lead < 0xF0:
		lo, n = rune(lead&0x0F)<<12, 1<<12
	default:
		lo, n = rune(lead&0x07)<<18, 1<<18
	}
	for r := lo; r < lo+n; r++ {
		switch {
		case lead < 0xE0 && c.two(r) != seqNone,
			lead >= 0xE0 && lead < 0xF0 && threeByte(r, c.wide) != seqNone,
			lead >= 0xF0 && c.wide && plausible4(r):
			return true
		}
	}
	return false
}

// byteOf returns the byte r stands for in the code page.
func (c *sbCodec) byteOf(r rune) (byte, bool) {
	if r >= 0 && r < rune(len(c.low)) {
		b := c.low[r]
		return b, b != 0
	}
	b, ok := c.high[r]
	return b, ok
}

// inRanges reports whether r lies in one of the [lo, hi] pairs.
func inRanges(r rune, ranges ...rune) bool {
	for i := 0; i+1 < len(ranges); i += 2 {
		if r >= ranges[i] && r <= ranges[i+1] {
			return true
		}
	}
	return false
}

// Strengths of a sequence (see sbSeqAt).
const (
	seqNone   = iota
	seqWeak   // counts only with other evidence in the document
	seqStrong // counts by itself
	seqWide   // strong when next to another sequence: CJK, kana, hangul…
)

// mojiClosing are characters that legitimately follow a word-final capital:
// "NICIODATĂ™", "AHÅ™", "10 Å—", "CAFÉ’s". A two-byte sequence ending in one
// is weak, except after Â and Ã, which nearly never end a word.
var mojiClosing = map[rune]bool{'’': true, '”': true, '…': true, '—': true, '–': true, '™': true, '»': true}

// twoByteWestern: Windows-1252 misreadings of Latin-1 symbols and letters,
// Latin Extended-A, Vietnamese and Romanian letters, Greek, Cyrillic and
// Arabic letters. Hebrew (lead × D7: "“×”" is ה) is weak, and so is a
// second byte 0xA0 (no-break space) after any lead but Â and Ã:
// "SELKÄ<NBSP>" is Finnish, not Ġ.
func twoByteWestern(r rune) int {
	switch {
	case inRanges(r, 0x5D0, 0x5EA) || r&0x3F == 0x20 && r > 0xFF:
		return seqWeak
	case inRanges(r, 0xA0, 0x17F, 0x1A0, 0x1A1, 0x1AF, 0x1B0, 0x218, 0x21B,
		0x386, 0x3CE, 0x400, 0x45F, 0x490, 0x491,
		0x621, 0x64A, 0x660, 0x669, 0x67E, 0x67E, 0x686, 0x686, 0x6AF, 0x6AF, 0x6CC, 0x6CC):
		return seqStrong
	}
	return seqNone
}

// twoByteCyrillic: Windows-1251 misreadings are believed only for Cyrillic
// letters; its leads are everyday Cyrillic capitals, so "ВІКІ" (В + І =
// U+00B2) must not count.
func twoByteCyrillic(r rune) int {
	if inRanges(r, 0x400, 0x45F, 0x490, 0x491) {
		return seqStrong
	}
	return seqNone
}

// twoByteCentral: Windows-1250 / ISO-8859-2 misreadings of Latin-1 and
// Latin Extended-A letters and symbols, and Romanian ș ț; a second byte
// 0xA0 is weak: Romanian "NICIODATĂ\u00a0" is à.
func twoByteCentral(r rune) int {
	switch {
	case r&0x3F == 0x20:
		return seqWeak
	case inRanges(r, 0xA0, 0x17F, 0x218, 0x21B):
		return seqStrong
	}
	return seqNone
}

// threeByte gives the strength of a three-byte character's misreading:
// punctuation, currency, symbols and U+FFFD itself ("ï¿½") are strong, and
// for a wide code page Indic, Thai, Vietnamese and full-width forms too;
// CJK, kana and hangul are seqWide: such text is damaged a run of
// characters at a time, while one stray "ë…”" (Brontë…”) decodes to a
// lone 녔.
func threeByte(r rune, wide bool) int {
	switch {
	case inRanges(r, 0x2010, 0x2027, 0x2030, 0x205E, 0x20A0, 0x20C0, 0x2100, 0x2BFF, 0xFFFD, 0xFFFD):
		return seqStrong
	case wide && inRanges(r, 0x900, 0xDFF, 0xE00, 0xE7F, 0x1E00, 0x1EFF, 0xFF00, 0xFFEF):
		return seqStrong // leads à á ï: "Tiáº¿ng", "à¸", "ï¼Œ"
	case wide && inRanges(r, 0x2E80, 0x2FDF, 0x3000, 0x9FFF, 0xAC00, 0xD7A3, 0xFE30, 0xFE4F):
		return seqWide
	}
	return seqNone
}

// plausible4: emoji and the CJK extensions.
func plausible4(r rune) bool {
	return inRanges(r, 0x1F000, 0x1FAFF, 0x20000, 0x3FFFF)
}

// sbSeqAt checks whether the characters at s[i:] are one UTF-8 sequence
// read through c: a lead byte followed by the continuation bytes it needs,
// decoding to a plausible character. It returns the number of characters,
// the end offset and the strength (seqNone: no sequence).
//
// One more Windows-1252 form is taken: a lowercase letter, "Ã" and an
// ASCII space is "à" whose no-break space (0xA0) became a space
// ("voilÃ  le travail").
func sbSeqAt(c *sbCodec, s string, i int) (n, end, strength int) {
	lead, size := utf8.DecodeRuneInString(s[i:])
	lb, ok := c.byteOf(lead)
	if !ok || !c.leadOK[lb] {
		return 0, 0, 0
	}
	need := 1
	switch {
	case lb >= 0xF0:
		need = 3
	case lb >= 0xE0:
		need = 2
	}
	var buf [4]byte
	buf[0] = lb
	j := i + size
	var last rune
	for k := 1; k <= need; k++ {
		if j >= len(s) {
			return 0, 0, 0
		}
		r, sz := utf8.DecodeRuneInString(s[j:])
		b, ok := c.byteOf(r)
		if !ok && r == ' ' && lb == 0xC3 && need == 1 && c.name == "windows-1252" && lowerBefore(s, i) {
			b, ok = 0xA0, true
		}
		if !ok || b < 0x80 || b > 0xBF {
			return 0, 0, 0
		}
		buf[k] = b
		last = r
		j += sz
	}
	r, sz := utf8.DecodeRune(buf[:need+1])
	if sz != need+1 {
		return 0, 0, 0 // overlong, surrogate or out of range
	}
	switch need {
	case 1:
		strength = c.two(r)
		switch {
		case strength != seqNone && last >= 0x80 && last <= 0x9F:
			strength = seqStrong // a C1 control is never text
		case strength == seqStrong && mojiClosing[last] && !(c.wide && (lb == 0xC2 || lb == 0xC3)):
			strength = seqWeak
		}
	case 2:
		strength = threeByte(r, c.wide)
	case 3:
		if c.wide && plausible4(r) {
			strength = seqStrong
		}
	}
	if strength == seqNone {
		return 0, 0, 0
	}
	return need + 1, j, strength
}

// lowerBefore reports whether the character before s[i] is a lowercase letter.
func lowerBefore(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return unicode.IsLower(r)
}

// sbEvidence counts, for the code page of mask (bit k: sbCodecs()[k])
// that explains the most, the characters in strong and in weak sequences,
// and the C1 controls outside any sequence.
func sbEvidence(s string, mask uint8) (strong, weak, stray int) {
	best := -1
	for k, c := range sbCodecs() {
		if mask&(1<<k) == 0 {
			continue
		}
		st, wk, sy := sbCount(c, s)
		if st > best {
			best, strong, weak, stray = st, st, wk, sy
		}
	}
	return strong, weak, stray
}

// allCodecs is the sbEvidence mask of every code page.
const allCodecs = 0xFF

// sbCount is sbEvidence for one code page. A wide sequence counts as
// strong when another sequence touches it, as weak otherwise.
func sbCount(c *sbCodec, s string) (strong, weak, stray int) {
	lastEnd := -1          // end of the last sequence
	pend, pendEnd := 0, -1 // a wide sequence waiting for a neighbour
	for i := 0; i < len(s); {
		n, end, st := sbSeqAt(c, s, i)
		if n == 0 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r >= 0x80 && r <= 0x9F {
				stray++
			}
			i += size
			continue
		}
		touching := i == lastEnd
		if pend > 0 {
			if i == pendEnd {
				strong += pend
			} else {
				weak += pend
			}
			pend = 0
		}
		switch {
		case st == seqWide && !touching:
			pend, pendEnd = n, end
		case st == seqWide, st == seqStrong:
			strong += n
		default:
			weak += n
		}
		lastEnd = end
		i = end
	}
	return strong, weak + pend, stray
}

// gbkMojiMinShare is the share of gbkMojiSet characters among Han at which
// the GBK round trip is tried: clean Simplified text has about 10%,
// Traditional up to 25%, UTF-8 Chinese read as GBK 60–100%.
const gbkMojiMinShare = 0.4

// gbkMinCommon is the share of common characters (commonHanSet) that the
// Han characters recovered by the GBK round trip must reach: correctly
// decoded Chinese has 70–88%, random byte pairs about 5%.
const gbkMinCommon = 0.4

// mojibakeScore scores s; sc is s's scan.
func mojibakeScore(s string, sc *docScan) float64 {
	bad, nonASCII := mojibakeCount(s, sc)
	if bad == 0 {
		return 0
	}
	return min(1, bad/float64(nonASCII))
}

// mojibakeCount returns the number of characters explained as damage and
// the number of non-ASCII characters.
func mojibakeCount(s string, sc *docScan) (bad float64, nonASCII int) {
	gbkSuspect := sc.gbkMoji >= 2 && float64(sc.gbkMoji) >= gbkMojiMinShare*float64(sc.han)
	if !sc.c1 && !sc.fffd && sc.mojiPairs == 0 && !gbkSuspect {
		return 0, 0 // the common case: no evidence at all
	}
	fffd, c1 := 0, 0
	for _, r := range s {
		if r >= utf8.RuneSelf {
			nonASCII++
			switch {
			case r == utf8.RuneError:
				fffd++
			case r <= 0x9F:
				c1++
			}
		}
	}
	bad = float64(fffd)
	if sc.mojiPairs == 0 {
		// No lead byte is followed by a continuation in any code page, so
		// there is no sequence: every C1 control is a stray one.
		bad += float64(c1)
	} else {
		strong, weak, stray := sbEvidence(s, sc.mojiPairs)
		bad += float64(strong + stray)
		if strong+stray > 0 {
			bad += float64(weak)
		}
	}
	if gbkSuspect {
		if cov, n := gbkRoundTrip(s); cov >= 0.6 {
			bad += cov * float64(n)
		}
	}
	return bad, nonASCII
}

// gbkRoundTrip encodes s as GBK (characters GBK lacks, U+FFFD among them,
// become one ASCII byte) and returns the share of the non-ASCII bytes that
// form valid multi-byte UTF-8, and the number of non-ASCII characters
// encoded. The share is 0 when the Han characters so recovered are not
// mostly common ones: then the bytes only happened to look like UTF-8.
func gbkRoundTrip(s string) (coverage float64, chars int) {
	enc := encoding.ReplaceUnsupported(simplifiedchinese.GBK.NewEncoder())
	b, err := enc.String(s)
	if err != nil {
		return 0, 0
	}
	high, covered, han, common := 0, 0, 0, 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(b[i:])
		if r != utf8.RuneError || size > 1 {
			covered += size
			if unicode.Is(unicode.Han, r) {
				han++
				if commonHanSet.has(r) {
					common++
				}
			}
		}
		high += size
		i += size
	}
	if high == 0 || float64(common) < gbkMinCommon*float64(han) {
		return 0, 0
	}
	for _, r := range s {
		if r >= utf8.RuneSelf && r != utf8.RuneError {
			chars++
		}
	}
	return float64(covered) / float64(high), chars
}

// repairMojibake undoes mojibake when the fix is unambiguous: the damaged
// characters encode back to bytes that are valid UTF-8 (or, for lone C1
// controls, Windows-1252 punctuation). A round is kept only when it leaves
// fewer damaged characters, or as many in a shorter text (ÃƒÂ© → Ã© is
// still damaged, → é is not). Rounds repeat for text damaged several times,
// up to mojiMaxRounds. Text that lost bytes (U+FFFD, 锟斤拷) is only flagged.
func (n *normalizer) repairMojibake(s string, score float64) (string, float64, bool) {
	cur, curScore := s, score
	sc := n.scan(s)
	curBad, _ := mojibakeCount(s, &sc)
	for range mojiMaxRounds {
		// Each repair is tried only when the scan saw its kind of evidence.
		fixed, ok := cur, false
		if sc.mojiPairs != 0 {
			fixed, ok = repairSingleByte(cur, sc.mojiPairs)
		}
		if !ok && sc.c1 {
			fixed, ok = repairC1(cur, sc.mojiPairs)
		}
		if !ok && sc.gbkMoji > 0 && !sc.fffd {
			fixed, ok = repairGBK(cur)
		}
		if !ok {
			break
		}
		sc = n.scan(fixed)
		fixedBad, _ := mojibakeCount(fixed, &sc)
		if fixedBad > curBad || fixedBad == curBad && len(fixed) >= len(cur) {
			break
		}
		cur, curBad, curScore = fixed, fixedBad, mojibakeScore(fixed, &sc)
	}
	return cur, curScore, cur != s
}

// mojiMaxRounds bounds the repair rounds: real text is seldom damaged more
// than three times ("ÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢" is ’ three times over).
const mojiMaxRounds = 8

// repairSingleByte tries each code page of mask (bit k: sbCodecs()[k])
// and keeps the repair that leaves the fewest characters in sequences (the
// most complete one).
func repairSingleByte(s string, mask uint8) (string, bool) {
	best, bestLeft, found := s, 0, false
	for k, c := range sbCodecs() {
		if mask&(1<<k) == 0 {
			continue
		}
		out, ok := repairSeqs(c, s)
		if !ok {
			continue
		}
		left, _, _ := sbEvidence(out, allCodecs)
		if !found || left < bestLeft || left == bestLeft && len(out) < len(best) {
			best, bestLeft, found = out, left, true
		}
	}
	return best, found
}

// repairSeqs re-decodes the UTF-8 sequences read through c, when the text
// has at least one strong sequence: then the weak and lone wide ones are
// taken too ("2012å¹´2æœˆ" is 2012年2月, each character alone between
// digits), as they are for the score. Characters outside sequences stay.
func repairSeqs(c *sbCodec, s string) (string, bool) {
	if strong, _, _ := sbCount(c, s); strong == 0 {
		return s, false
	}
	var out []byte
	copied := 0
	for i := 0; i < len(s); {
		n, end, _ := sbSeqAt(c, s, i)
		if n == 0 {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		out = append(out, s[copied:i]...)
		out = appendSeqBytes(c, out, s[i:end])
		if s[end-1] == ' ' && (end == len(s) || s[end] != ' ') {
			// "voilÃ le": the no-break space was lost rather than turned
			// into a space; keep the word boundary.
			out = append(out, ' ')
		}
		copied, i = end, end
	}
	if out == nil {
		return s, false
	}
	return string(append(out, s[copied:]...)), true
}

// appendSeqBytes appends the bytes of a sequence found by sbSeqAt; its
// only ASCII character is the space of "Ã ", which stood for 0xA0.
func appendSeqBytes(c *sbCodec, buf []byte, seq string) []byte {
	for _, r := range seq {
		b, ok := c.byteOf(r)
		if !ok {
			b = 0xA0
		}
		buf = append(buf, b)
	}
	return buf
}

// repairC1 maps C1 controls to the Windows-1252 characters of the same
// byte (U+0092 → ’, U+0085 → …): text that was Windows-1252 read as
// Latin-1. It applies only when no UTF-8 sequence is in sight (those are
// repairSingleByte's; mask says in which code pages the scan saw a lead
// byte before a continuation), and leaves the five bytes Windows-1252
// lacks.
func repairC1(s string, mask uint8) (string, bool) {
	if mask != 0 {
		if strong, weak, _ := sbEvidence(s, mask); strong+weak > 0 {
			return s, false
		}
	}
	out := make([]byte, 0, len(s)+len(s)/4)
	changed := false
	for _, r := range s {
		if r >= 0x80 && r <= 0x9F {
			if w := charmap.Windows1252.DecodeByte(byte(r)); w != utf8.RuneError && w != r {
				r, changed = w, true
			}
		}
		out = utf8.AppendRune(out, r)
	}
	return string(out), changed
}

// repairGBK undoes UTF-8 read as GBK when nothing was lost: every
// character encodes to GBK, and the bytes are valid UTF-8 with no U+FFFD.
func repairGBK(s string) (string, bool) {
	b, err := simplifiedchinese.GBK.NewEncoder().String(s)
	if err != nil || b == s || !utf8.ValidString(b) {
		return s, false
	}
	for _, r := range b {
		if r == utf8.RuneError {
			return s, false
		}
	}
	return b, true
}
