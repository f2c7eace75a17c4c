package filters

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"winnow/internal/testenv"
)

// grReference computes gopher_repetition's signals the plain way, as the
// family's doc and datatrove's code describe them: regexp splits, maps of
// strings, n-grams as slices of token strings. Only the token stream is
// the family's own (tuTokens), since the tokenizer is not what it checks.
// The text must be valid UTF-8.
func grReference(d *Doc) []float64 {
	out := make([]float64, len(GopherRepetition.Signals))
	L := utf8.RuneCountInString(d.Text)
	frac := func(n int) float64 { return tuRatio(n, L) }
	dups := func(parts []string) (n, chars int) {
		seen := map[string]bool{}
		for _, p := range parts {
			if seen[p] {
				n++
				chars += utf8.RuneCountInString(p)
			}
			seen[p] = true
		}
		return n, chars
	}
	paras := regexp.MustCompile("\n{2,}").Split(tuTrim(d.Text), -1)
	n, chars := dups(paras)
	out[grDupParaFrac], out[grDupParaCharFrac] = tuRatio(n, len(paras)), frac(chars)
	lines := regexp.MustCompile("\n+").Split(d.Text, -1)
	n, chars = dups(lines)
	out[grDupLineFrac], out[grDupLineCharFrac] = tuRatio(n, len(lines)), frac(chars)

	var tt tuTokens
	tt.build(d)
	var words []string
	for _, t := range tt.toks {
		words = append(words, d.Text[t.start:t.end])
	}
	for n := 2; n <= 4; n++ {
		out[grTop2+n-2] = math.NaN()
		if len(words) >= n {
			out[grTop2+n-2] = frac(grReferenceTop(words, n))
		}
	}
	for n := 5; n <= 10; n++ {
		out[grDup5+n-5] = frac(grReferenceDup(words, n))
	}
	return out
}

// grReferenceTop is datatrove's find_top_duplicate over token n-grams
// (tuple keys: tokens are compared one by one).
func grReferenceTop(words []string, n int) int {
	counts := make(map[[4]string]int, len(words))
	var order [][4]string
	for i := 0; i+n <= len(words); i++ {
		var key [4]string
		copy(key[:], words[i:i+n])
		if counts[key] == 0 {
			order = append(order, key)
		}
		counts[key]++
	}
	var top [4]string
	best := 0
	for _, key := range order { // most_common(1): the first inserted of the top counts
		if counts[key] > best {
			top, best = key, counts[key]
		}
	}
	return utf8.RuneCountInString(strings.Join(top[:n], " ")) * best
}

// grReferenceDup is datatrove's find_all_duplicate: keys are the n tokens
// joined with "".
func grReferenceDup(words []string, n int) int {
	seen := make(map[string]bool, len(words))
	dup := 0
	for i := 0; i+n <= len(words); {
		key := strings.Join(words[i:i+n], "")
		if seen[key] {
			dup += utf8.RuneCountInString(key)
			i += n
		} else {
			seen[key] = true
			i++
		}
	}
	return dup
}

// grSyntheticDocs are documents of few distinct tokens, so that n-grams
// repeat often, ties are common and token boundaries shift under equal
// concatenations (研究/生命 against 研究生/命), with their words.
func grSyntheticDocs(n int) []Doc {
	rng := rand.New(rand.NewPCG(5, 7))
	vocab := []string{"研", "究", "生", "命", "研究", "生命", "研究生", "的", "。", "a", "b", "ab", "ba", "x y", "，"}
	seps := []string{"", "", "", " ", "\n", "\n\n"}
	var docs []Doc
	for i := range n {
		k := 2 + rng.IntN(len(vocab)-1)
		var words []string
		var sb strings.Builder
		for range rng.IntN(400) {
			w := vocab[rng.IntN(k)]
			words = append(words, w)
			sb.WriteString(w)
			sb.WriteString(seps[rng.IntN(len(seps))])
		}
		d := Doc{Text: sb.String()}
		if i%2 == 0 {
			d.Words = words
		}
		docs = append(docs, d)
	}
	return docs
}

// grRealDocs are documents of the shared corpora with the segment stage's
// words (skipped without the corpora): Lu Xun's prose, every fourth
// statute, ShareGPT threads, and the web pages (also without words, for
// the fallback tokenizer); and the fixtures.
func grRealDocs(t *testing.T) []Doc {
	var docs []Doc
	for _, set := range []string{"zh-prose", "zh-laws", "sharegpt", "text-junk"} {
		var texts []string
		for i, d := range zhCorpus(t, set) {
			if set != "zh-laws" || i%4 == 0 {
				texts = append(texts, d.text)
			}
		}
		for i, words := range tuSegment(t, texts) {
			docs = append(docs, Doc{Text: texts[i], Words: words})
			if set == "text-junk" {
				docs = append(docs, Doc{Text: texts[i]})
			}
		}
	}
	filepath.WalkDir(testenv.Fixtures(t), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if b, err := os.ReadFile(p); err == nil && utf8.Valid(b) {
				docs = append(docs, Doc{Text: string(b)})
			}
		}
		return nil
	})
	return docs
}

// TestGopherRepetitionMatchesReference compares every signal, bit for
// bit, with grReference on the real documents and on synthetic ones made
// to repeat.
func TestGopherRepetitionMatchesReference(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus comparison")
	}
	docs := append(grSyntheticDocs(2000), grRealDocs(t)...)
	c := GopherRepetition.NewComputer()
	bad := 0
	for i := range docs {
		got := tuSignals(GopherRepetition, c, &docs[i])
		want := grReference(&docs[i])
		for k, s := range GopherRepetition.Signals {
			if math.Float64bits(got[k]) != math.Float64bits(want[k]) && !(math.IsNaN(got[k]) && math.IsNaN(want[k])) {
				if bad++; bad <= 10 {
					t.Errorf("doc %d (%.40q, words %v): %s = %v, reference %v", i, docs[i].Text, docs[i].Words != nil, s.Name, got[k], want[k])
				}
			}
		}
	}
	t.Logf("%d documents", len(docs))
}

// TestDupNGramsLongerThanNoneRepeating: no 5-gram repeats, but a 6-gram
// does, with other token boundaries (a/b/c/d/e/fg and ab/c/d/e/f/g both
// concatenate to abcdefg): the passes for longer n must still run.
func TestDupNGramsLongerThanNoneRepeating(t *testing.T) {
	words := []string{"a", "b", "c", "d", "e", "fg", "x1", "x2", "x3", "x4", "x5", "x6", "ab", "c", "d", "e", "f", "g"}
	text := strings.Join(words, " ")
	v := tuSignals(GopherRepetition, GopherRepetition.NewComputer(), &Doc{Text: text, Words: words})
	L := float64(utf8.RuneCountInString(text))
	for name, want := range map[string]float64{"dup_5_gram_char_frac": 0, "dup_6_gram_char_frac": 7 / L} {
		if got := tuSignal(GopherRepetition, v, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// TestTokenHashOneToOne proves what sameToken relies on: two tokens of at
// most two characters with the same hash h = (r0+1) + (r1+1)·B (r1+1 = 0
// for one character; mod 2^64) are the same. Equal hashes would need
// d0 + d1·B = 0 with |d0| < 0x110000 and 0 < |d1| <= 0x110000 (d1 = 0
// forces d0 = 0): no multiple of B up to 0x110000 is that close to 0.
func TestTokenHashOneToOne(t *testing.T) {
	const maxTerm = utf8.MaxRune + 1
	for d1 := uint64(1); d1 <= maxTerm; d1++ {
		if v := d1 * tuHashBase; v < maxTerm || -v < maxTerm {
			t.Fatalf("%d·B = %#x mod 2^64: two-character tokens can share a hash", d1, v)
		}
	}
}

// Invalid UTF-8: tokens compare by the characters the tokenizer read, so
// two different bad bytes (each U+FFFD) are the same token, and so is a
// literal U+FFFD; equal bytes split differently are not the same.
func TestNgramsInvalidUTF8(t *testing.T) {
	for _, tc := range []struct {
		a, b []string // words, each a token
		same bool
	}{
		{[]string{"x\xffy"}, []string{"x\xfey"}, true},
		{[]string{"x\xffy"}, []string{"x\uFFFDy"}, true},
		{[]string{"\xe4\xb8\xad", "x"}, []string{"\xe4\xb8", "\xadx"}, false}, // 中x against 4 characters
		{[]string{"ab", "\xff"}, []string{"a", "b\xff"}, true},
		{[]string{"ab", "\xff"}, []string{"a", "b\xfe\xfe"}, false},
		{[]string{"x\xe0\x80\x80"}, []string{"x\x00"}, true},        // overlong: U+0000 as the tokenizer reads it
		{[]string{"\xed\xa0\x80"}, []string{"\xed\xa0\x81"}, false}, // surrogates
	} {
		words := append(append([]string{}, tc.a...), tc.b...)
		text := strings.Join(words, "")
		var tt tuTokens
		tt.build(&Doc{Text: text, Words: words})
		if !tt.invalid || len(tt.toks) != len(words) {
			t.Fatalf("%q: invalid %v, %d tokens, want true, %d", words, tt.invalid, len(tt.toks), len(words))
		}
		var g ngGrams
		g.prepare(text, tt.toks, tt.invalid)
		if got := g.sameTokens(0, len(tc.a), len(tc.a)); got != tc.same {
			t.Errorf("%q vs %q: same %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}
