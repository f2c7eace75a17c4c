package stages

import (
	"math"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// langUnd is the lang of a document whose language could not be decided.
const langUnd = "und"

// How a document's language was decided; each is a counter of the stage.
const (
	viaScript     = "by_script"      // the script pre-classifier alone
	viaLingua     = "by_lingua"      // lingua, on a sample of the top script's words
	undNoLetters  = "und_no_letters" // nothing but digits, punctuation, symbols, emoji
	undDegenerate = "und_degenerate" // many letters but fewer than 3 distinct ones, or mostly runs too long to be words
	undScript     = "und_script"     // the top script is written by no configured language
	undLingua     = "und_lingua"     // lingua could not tell
	undConfidence = "und_low_confidence"
)

// Documents with more letters than this but fewer than three distinct ones
// ("aaaa…", 50 MB of 好) are not language: short ones ("好的", "전 문") are.
const degenerateMinLetters = 16

// A run of one script's letters longer than this is not a word (a hash, a
// base64 blob, a key held down) and is left out of lingua's sample.
const maxSampleWordRunes = 64

// langPlan says, per script, who decides the language of its letters. It is
// derived once from the configured language set.
type langPlan struct {
	// decided[s] is the ISO code of the only configured language written in
	// script s, or "" when none or several are.
	decided [numScripts]string
	// viaLingua[s] is true when several configured languages share script s.
	viaLingua [numScripts]bool
	// zh, ja, ko: the codes Han letters are given in a Chinese, Japanese
	// (kana beside them) or Korean (hangul beside them) context; "" = und.
	zh, ja, ko string
}

// langScan is what one pass over a document learns.
type langScan struct {
	letters    [numScripts]int // letters per script, CJK scripts and junk runs excluded
	zh, ja, ko int             // CJK letters by the context of their segment
	titles     int             // Han letters of short segments without kana or hangul
	junk       int             // letters in runs too long to be words
	total      int             // all letters
	distinct   int             // distinct letters, counted up to 3
	seen       [2]rune
}

// A segment of at most this many Han letters and no kana is a title
// (第１条, 『世界人権宣言』) or a short sentence: Japanese in a mostly
// Japanese document, else Chinese.
const maxTitleHan = 20

// A segment ends at a line end, at a CJK sentence end, and after this many
// CJK letters at the next non-letter: so that the kana of one phrase do not
// make a whole 100 KB line of keyword spam Japanese.
const maxSegmentCJK = 200

// endsSegment reports whether non-letter r ends a segment that has n CJK
// letters so far.
func endsSegment(r rune, n int) bool {
	switch r {
	case '\n', '。', '！', '？':
		return true
	}
	return n >= maxSegmentCJK
}

// scanLetters counts the letters of text by script in one pass. Han letters
// are attributed per segment (a line or a sentence): with kana in the
// segment they are Japanese, with hangul Korean (Hanja), alone Chinese,
// except titles of a mostly Japanese document. Letters in runs too long to
// be words (in scripts written with spaces) are counted apart as junk.
func scanLetters(text string) langScan {
	var sc langScan
	var han, kana, hangul int
	run, runScript := 0, scriptNone
	for _, r := range text {
		s := scriptOf(r)
		if s == scriptNone && han+kana+hangul > 0 && endsSegment(r, han+kana+hangul) {
			sc.endSegment(han, kana, hangul)
			han, kana, hangul = 0, 0, 0
		}
		if s != runScript {
			sc.endRun(runScript, run)
			run, runScript = 0, s
		}
		run++
		if s == scriptNone {
			continue
		}
		sc.total++
		if sc.distinct < 3 {
			sc.noteDistinct(r)
		}
		switch s {
		case scriptHan:
			han++
		case scriptKana:
			kana++
		case scriptHangul:
			hangul++
		default:
			sc.letters[s]++
		}
	}
	sc.endRun(runScript, run)
	sc.endSegment(han, kana, hangul)
	if sc.ja > 0 && sc.ja >= sc.zh {
		sc.ja += sc.titles
	} else {
		sc.zh += sc.titles
	}
	sc.titles = 0
	return sc
}

// endSegment attributes the CJK letters of one segment.
func (sc *langScan) endSegment(han, kana, hangul int) {
	switch {
	case kana > 0 && kana >= hangul:
		sc.ja += han
	case hangul > 0:
		sc.ko += han
	case han <= maxTitleHan:
		sc.titles += han
	default:
		sc.zh += han
	}
	sc.ja += kana
	sc.ko += hangul
}

// endRun moves a run of n letters of script s to junk when it is too long
// to be a word. Scripts written without spaces between words (CJK, Thai,
// the unknown ones) have long runs by nature and are left alone.
func (sc *langScan) endRun(s script, n int) {
	if n > maxSampleWordRunes && s.spaced() {
		sc.letters[s] -= n
		sc.junk += n
	}
}

func (sc *langScan) noteDistinct(r rune) {
	for _, s := range sc.seen[:min(sc.distinct, 2)] {
		if s == r {
			return
		}
	}
	if sc.distinct < 2 {
		sc.seen[sc.distinct] = r
	}
	sc.distinct++
}

// langBucket is a share of a document's letters with one decider: a known
// language, und, or lingua for the letters of one script.
type langBucket struct {
	code   string // "" with lingua set: not yet known
	lingua script // scriptNone unless lingua must decide
	junk   bool   // letters in runs too long to be words
	weight float64
}

// langResult is one document's verdict.
type langResult struct {
	lang  string
	score float64 // 1 for a script decision, lingua's confidence otherwise
	mix   float64 // weight share of the top bucket
	how   string  // viaScript, viaLingua or an und* reason
}

// topBucket returns the heaviest bucket of sc and the total weight. CJK
// letters weigh cjkWeight each. On a tie the first bucket in a fixed order
// wins (zh, ja, ko, then scripts in enum order, junk last), so the result
// never depends on map order.
func (p *langPlan) topBucket(sc *langScan, cjkWeight float64) (langBucket, float64) {
	var top langBucket
	total := 0.0
	consider := func(b langBucket) {
		if b.weight <= 0 {
			return
		}
		total += b.weight
		if b.weight > top.weight {
			top = b
		}
	}
	// Buckets with the same known code merge: with zh unconfigured, Han
	// letters may be given to ja as well.
	cjk := []langBucket{
		{code: p.zh, weight: float64(sc.zh) * cjkWeight},
		{code: p.ja, weight: float64(sc.ja) * cjkWeight},
		{code: p.ko, weight: float64(sc.ko) * cjkWeight},
	}
	for i := range cjk {
		for j := range i {
			if cjk[j].code == cjk[i].code && cjk[j].weight > 0 {
				cjk[j].weight += cjk[i].weight
				cjk[i].weight = 0
			}
		}
	}
	for _, b := range cjk {
		consider(b)
	}
	for s := scriptLatin; s < numScripts; s++ {
		b := langBucket{code: p.decided[s], weight: float64(sc.letters[s])}
		if p.viaLingua[s] {
			b.lingua = s
		}
		consider(b)
	}
	consider(langBucket{junk: true, weight: float64(sc.junk)})
	return top, total
}

// decide turns a scan into a verdict. When the heaviest share of the
// document is in a script several configured languages share, the verdict
// is left to lingua: decide returns that script, and the caller passes
// lingua's answer on a sample of its words to withLingua.
func (p *langPlan) decide(sc *langScan, cjkWeight float64) (langResult, script) {
	if sc.total == 0 {
		return langResult{lang: langUnd, how: undNoLetters}, scriptNone
	}
	top, total := p.topBucket(sc, cjkWeight)
	res := langResult{lang: langUnd, mix: top.weight / total}
	switch {
	case sc.distinct < 3 && sc.total > degenerateMinLetters, top.junk:
		res.how = undDegenerate
	case top.lingua != scriptNone:
		return res, top.lingua
	case top.code == "":
		res.how = undScript
	default:
		res.lang, res.score, res.how = top.code, 1, viaScript
	}
	return res, scriptNone
}

// withLingua completes a verdict decide left to lingua.
func (res langResult) withLingua(code string, confidence float64, ok bool, minConfidence float64) langResult {
	res.score = roundScore(confidence)
	switch {
	case !ok:
		res.how = undLingua
	case res.score < minConfidence:
		res.how = undConfidence
	default:
		res.lang, res.how = code, viaLingua
	}
	return res
}

// roundScore keeps four decimals of lingua's confidence. lingua sums
// log-probabilities in map order, so the last bits of its value differ
// from run to run; shards must not.
func roundScore(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// appendSample appends to dst the first words of text written in script s,
// separated by single spaces, until about maxRunes characters: the bounded,
// word-aligned sample lingua sees. Combining marks stay with their word and
// the sample is NFC-normalised, because lingua splits words at anything
// that is not a letter (decomposed Vietnamese would fall apart).
func appendSample(dst []byte, text string, s script, maxRunes int) []byte {
	start := len(dst)
	runes := 0
	wordStart, wordRunes := -1, 0
	endWord := func(end int) {
		if wordStart >= 0 && wordRunes <= maxSampleWordRunes {
			dst = append(dst, text[wordStart:end]...)
			dst = append(dst, ' ')
			runes += wordRunes + 1
		}
		wordStart, wordRunes = -1, 0
	}
	for i, r := range text {
		if runes >= maxRunes {
			break
		}
		switch {
		case scriptOf(r) == s:
			if wordStart < 0 {
				wordStart = i
			}
			wordRunes++
		case wordStart >= 0 && unicode.Is(unicode.Mn, r):
			// a combining mark continues its word
		default:
			endWord(i)
		}
	}
	if runes < maxRunes {
		endWord(len(text))
	}
	if len(dst) > start {
		dst = dst[:len(dst)-1] // the last space
	}
	if !norm.NFC.IsNormal(dst[start:]) {
		nfc := norm.NFC.Bytes(dst[start:])
		dst = append(dst[:start], nfc...)
	}
	return dst
}
