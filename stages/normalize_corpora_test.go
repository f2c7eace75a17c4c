package stages

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/liuzl/gocc"

	"winnow/internal/testenv"
)

// char5Jaccard is pairs.tsv's measure: the Jaccard index of the sets of
// character 5-grams after deleting all white space.
func char5Jaccard(a, b string) float64 {
	grams := func(s string) map[string]bool {
		s = strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, s)
		rs := []rune(s)
		m := map[string]bool{}
		for i := 0; i+5 <= len(rs); i++ {
			m[string(rs[i:i+5])] = true
		}
		return m
	}
	ga, gb := grams(a), grams(b)
	inter := 0
	for g := range ga {
		if gb[g] {
			inter++
		}
	}
	union := len(ga) + len(gb) - inter
	if union == 0 {
		return 1
	}
	return float64(inter) / float64(union)
}

// TestNormalizeZhProsePairs checks that normalization makes the two
// transcriptions of the same Lu Xun works near-duplicates, as pairs.tsv
// says NFKC does (0.25–0.45 raw, 0.81–0.99 NFKC, two partial copies
// lower). The alt-edition has ASCII , ; ? ! ( ) where the primary has
// ，；？！（）, so only halfwidth_punct (NFKC's own punctuation mapping)
// closes the gap; the defaults keep Chinese punctuation, which leaves the
// Jaccard where it was (a deduplicator wanting these pairs should compare
// a halfwidth_punct form). pairs.tsv also maps ― to —, which normalize does
// not do (both are Chinese dashes), so the test does it first.
func TestNormalizeZhProsePairs(t *testing.T) {
	dir := filepath.Join(testenv.SharedCorpora(t), "zh-prose")
	rows := normReadLines(t, filepath.Join(dir, "pairs.tsv"))[1:]
	full := newTestNormalizer(t, func(o *NormalizeOptions) { o.HalfwidthPunct = true })
	def := newTestNormalizer(t, nil)
	read := func(rel string) string {
		return strings.Join(normReadLines(t, filepath.Join(dir, rel)), "\n")
	}
	for _, row := range rows {
		f := strings.Split(row, "\t")
		a, b := read(f[0]), read(f[1])
		a, b = strings.ReplaceAll(a, "―", "—"), strings.ReplaceAll(b, "―", "—")
		rawTSV, _ := strconv.ParseFloat(f[4], 64)
		nfkcTSV, _ := strconv.ParseFloat(f[5], 64)
		raw := char5Jaccard(a, b)
		withPunct := char5Jaccard(full.apply(a).text, full.apply(b).text)
		withDefault := char5Jaccard(def.apply(a).text, def.apply(b).text)
		t.Logf("%-24s raw %.3f (tsv %.3f)  halfwidth_punct %.3f (tsv nfkc %.3f)  defaults %.3f",
			f[0], raw, rawTSV, withPunct, nfkcTSV, withDefault)
		if withPunct < nfkcTSV-0.02 {
			t.Errorf("%s: Jaccard after normalize %.3f, pairs.tsv's NFKC gives %.3f", f[0], withPunct, nfkcTSV)
		}
		if withPunct < raw+0.2 && nfkcTSV > 0.8 {
			t.Errorf("%s: normalize raised Jaccard only from %.3f to %.3f", f[0], raw, withPunct)
		}
		if withDefault < raw-0.01 {
			t.Errorf("%s: the defaults lowered Jaccard from %.3f to %.3f", f[0], raw, withDefault)
		}
	}
}

// TestNormalizeDRCDSimplified converts the 1,000 DRCD paragraphs
// (Traditional Chinese Wikipedia) and checks the result character by
// character: no Traditional-only character may remain, except in the few
// identity phrases OpenCC keeps (none expected).
func TestNormalizeDRCDSimplified(t *testing.T) {
	paras := normDRCD(t, testenv.SharedCorpora(t))
	n := newTestNormalizer(t, nil)
	converted, residue, chars := 0, map[rune]int{}, 0
	for _, p := range paras {
		r := n.apply(p)
		if r.steps&stT2S != 0 {
			converted++
		}
		for _, c := range r.text {
			chars++
			if c < normTableSize && n.conv.strict.has(c) {
				residue[c]++
			}
		}
	}
	t.Logf("DRCD: %d of %d paragraphs converted; %d characters; Traditional-only residue %v", converted, len(paras), chars, residue)
	if converted != len(paras) {
		t.Errorf("only %d of %d DRCD paragraphs were converted", converted, len(paras))
	}
	if len(residue) > 0 {
		t.Errorf("Traditional-only characters left after t2s: %v", residue)
	}
}

// TestNormalizeT2SMatchesGocc checks that the linear matcher gives gocc's
// own output (OpenCC's longest-match rule over the same dictionaries) on
// DRCD paragraphs and zh-prose lines, for every mode.
func TestNormalizeT2SMatchesGocc(t *testing.T) {
	corpora := testenv.SharedCorpora(t)
	var texts []string
	for i, p := range normDRCD(t, corpora) {
		if i%4 == 0 { // gocc is quadratic: a quarter is plenty
			texts = append(texts, p)
		}
	}
	_, prose := normCorpusFiles(t, filepath.Join(corpora, "zh-prose", "呐喊"), ".txt")
	for _, doc := range prose {
		texts = append(texts, strings.Split(doc, "\n")...)
	}
	texts = append(texts, "乾隆皇帝覺得天氣乾燥，頭髮很著名。", "這個軟體的資料庫", "於是他瞭解了")
	for _, mode := range t2sModes {
		ours, err := t2sFor(mode)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := gocc.New(mode)
		if err != nil {
			t.Fatal(err)
		}
		diff := 0
		for _, s := range texts {
			want, err := ref.Convert(s)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := ours.convertOnce(s); got != want {
				if diff++; diff <= 3 {
					t.Errorf("%s: %q\n ours %q\n gocc %q", mode, s, got, want)
				}
			}
		}
		if diff > 0 {
			t.Errorf("%s: %d of %d texts differ from gocc", mode, diff, len(texts))
		}
	}
}

// TestNormalizeT2SDictionaries checks that the chain is OpenCC's
// phrase-level one: TSPhrases before TSCharacters, with their sizes in
// this gocc version, and that converting converted text changes nothing.
func TestNormalizeT2SDictionaries(t *testing.T) {
	c, err := t2sFor("t2s")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.groups) != 1 || len(c.groups[0].dicts) != 2 {
		t.Fatalf("t2s chain: %d groups", len(c.groups))
	}
	phrases, chars := c.groups[0].dicts[0], c.groups[0].dicts[1]
	if len(phrases.phrases) < 250 || len(chars.vals) < 3800 {
		t.Errorf("TSPhrases %d entries, TSCharacters %d: not OpenCC's tables", len(phrases.phrases), len(chars.vals))
	}
	for _, tt := range []struct{ in, want string }{
		{"乾燥", "干燥"}, {"乾隆", "乾隆"}, {"頭髮", "头发"}, {"著名", "著名"},
		{"於是", "于是"}, {"瞭解", "了解"}, {"乾淨", "干净"}, {"後來", "后来"},
	} {
		if got, _ := c.convert(tt.in); got != tt.want {
			t.Errorf("t2s %s = %s, want %s", tt.in, got, tt.want)
		}
	}
	tw, err := t2sFor("tw2sp")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ in, want string }{
		{"軟體", "软件"}, {"滑鼠", "鼠标"}, {"資料庫", "数据库"}, {"計程車", "出租车"},
	} {
		if got, _ := tw.convert(tt.in); got != tt.want {
			t.Errorf("tw2sp %s = %s, want %s", tt.in, got, tt.want)
		}
	}
	// Idempotence over the whole DRCD.
	for _, p := range normDRCD(t, testenv.SharedCorpora(t)) {
		once, _ := c.convert(p)
		if twice, changed := c.convert(once); changed {
			t.Errorf("t2s not idempotent:\n %q\n %q", once, twice)
			break
		}
	}
}

// TestNormalizeCorporaIdempotent normalizes every shared corpus text twice:
// the second pass must change nothing, and the output must be valid UTF-8.
func TestNormalizeCorporaIdempotent(t *testing.T) {
	corpora := testenv.SharedCorpora(t)
	var docs []string
	for _, sub := range []struct{ dir, ext string }{
		{"zh-prose", ".txt"}, {"zh-laws", ".md"}, {"langid", ".txt"}, {"encoding/mojibake-cases", ".tsv"},
	} {
		_, texts := normCorpusFiles(t, filepath.Join(corpora, sub.dir), sub.ext)
		docs = append(docs, texts...)
	}
	docs = append(docs, normDRCD(t, corpora)...)
	for _, mode := range []func(*NormalizeOptions){
		nil,
		func(o *NormalizeOptions) { o.HalfwidthPunct, o.T2S = true, t2sAlways },
		func(o *NormalizeOptions) { o.Form, o.T2SMode = "nfc", "tw2sp" },
	} {
		n := newTestNormalizer(t, mode)
		for _, d := range docs {
			once := n.apply(d)
			if !utf8.ValidString(once.text) {
				t.Fatalf("invalid UTF-8 out of %.80q", d)
			}
			if twice := n.apply(once.text); twice.text != once.text {
				t.Errorf("not idempotent (steps %b):\n%.300q\n%.300q", twice.steps, once.text, twice.text)
			}
		}
	}
}
