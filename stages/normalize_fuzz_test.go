package stages

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzNormalize checks, for several option sets, that normalize never
// panics, always returns valid UTF-8 and a score in [0, 1], is idempotent
// (normalize(normalize(x)) == normalize(x)), and that the whitespace
// shortcut agrees with the full cleanup.
func FuzzNormalize(f *testing.F) {
	var cases []normGoldenCase
	if data, err := os.ReadFile(filepath.Join("testdata", "normalize", "golden.json")); err == nil {
		_ = json.Unmarshal(data, &cases)
	}
	for _, c := range cases {
		f.Add(c.In)
	}
	for _, s := range []string{
		"a\xffb", "\xed\xa0\x80", "e\u0301\u0302\u0316", "！\u0301", "Ａ\u0301", "\u200d\u200d😀\u200d",
		"乾乾隆於倫敦", "坐落於倫敦", "ÃƒÂ©", "Ã \u00a0", "x\r\n\r\n\u2028 \t\n", "\u3000\u3000",
		"︙ ㍿ ﷺ", "a\u0345\u0301", "ﾞﾟ", "\u1100\u1161\u11a8", "한국어 日本語 中文",
		// Found by the fuzzer: a repair that must run twice (Ã\u0083© → Ã© → é),
		// and mojibake that only NFKC reveals (℃ → °C after â€).
		"\u00c3\u0083\u00a9", "\u00e2\u20ac\u2103", "aÃ\u3000b",
	} {
		f.Add(s)
	}
	ns := []*normalizer{
		newTestNormalizer(f, nil),
		newTestNormalizer(f, func(o *NormalizeOptions) { o.HalfwidthPunct, o.T2S = true, t2sAlways }),
		newTestNormalizer(f, func(o *NormalizeOptions) { o.Form, o.T2SMode, o.FullwidthASCII = "nfc", "tw2sp", false }),
		newTestNormalizer(f, func(o *NormalizeOptions) { o.Form, o.RemoveControls, o.Mojibake = "none", false, mojiFlag }),
	}
	f.Fuzz(func(t *testing.T, s string) {
		for k, n := range ns {
			r := n.apply(s)
			if !utf8.ValidString(r.text) {
				t.Fatalf("normalizer %d: invalid UTF-8 %+q from %+q", k, r.text, s)
			}
			if !(r.mojibake >= 0 && r.mojibake <= 1) {
				t.Fatalf("normalizer %d: score %v", k, r.mojibake)
			}
			if again := n.apply(r.text); again.text != r.text {
				t.Fatalf("normalizer %d: not idempotent on %+q:\n once  %+q\n twice %+q (steps %b)", k, s, r.text, again.text, again.steps)
			}
			if v := r.text; utf8.ValidString(s) {
				sc := n.scan(s)
				if n.whitespace && sc.ws && !sc.wsInner && trimDocEnds(s) != cleanWhitespace(s, false) {
					t.Fatalf("normalizer %d: trimDocEnds %+q, cleanWhitespace %+q", k, trimDocEnds(s), cleanWhitespace(s, false))
				}
				if n.whitespace && !sc.otherEnds && cleanWhitespace(s, true) != cleanWhitespace(s, false) {
					t.Fatalf("normalizer %d: scan missed a CR or U+2028 in %+q", k, s)
				}
				if n.whitespace && !sc.ws && cleanWhitespace(s, false) != s {
					t.Fatalf("normalizer %d: scan missed whitespace work in %+q", k, s)
				}
				_ = v
			}
		}
	})
}
