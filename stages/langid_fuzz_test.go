package stages

import (
	"testing"
	"unicode/utf8"

	"github.com/pemistahl/lingua-go"
)

// FuzzLangIDScan checks the pre-classifier and the sample builder on
// arbitrary bytes: every letter lands in exactly one bucket, the verdict's
// shares are proportions, and lingua's sample stays bounded and valid.
// lingua itself is left out: it is slow, and not ours to fuzz.
func FuzzLangIDScan(f *testing.F) {
	for _, s := range []string{
		"", "hello world", "人人生而自由", "すべての人間は", "전 문", "\xff\xfe", "第１条\n世界人権宣言です",
		"Đie\u0302\u0300u 1", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "😀😀 ok",
	} {
		f.Add(s)
	}
	plan, _ := planLanguages(mustParseLanguages(f, defaultLanguages))
	f.Fuzz(func(t *testing.T, text string) {
		sc := scanLetters(text)
		sum := sc.zh + sc.ja + sc.ko + sc.junk + sc.titles
		for _, n := range sc.letters {
			if n < 0 {
				t.Fatalf("negative letter count: %+v", sc)
			}
			sum += n
		}
		if sum != sc.total {
			t.Fatalf("buckets hold %d letters, total is %d: %+v", sum, sc.total, sc)
		}
		res, _ := plan.decide(&sc, 3)
		if res.mix < 0 || res.mix > 1 || (sc.total == 0) != (res.how == undNoLetters) {
			t.Fatalf("verdict %+v for %d letters", res, sc.total)
		}
		const maxRunes = 50
		sample := appendSample(nil, text, scriptLatin, maxRunes)
		if n := utf8.RuneCount(sample); n > 2*(maxRunes+maxSampleWordRunes) {
			t.Fatalf("sample of %d characters, bound %d", n, maxRunes)
		}
		if utf8.ValidString(text) && !utf8.Valid(sample) {
			t.Fatalf("invalid UTF-8 sample %q", sample)
		}
	})
}

func mustParseLanguages(f *testing.F, codes []string) []lingua.Language {
	f.Helper()
	langs, err := parseLanguages(codes, "test")
	if err != nil {
		f.Fatal(err)
	}
	return langs
}
