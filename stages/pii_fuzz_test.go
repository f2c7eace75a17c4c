package stages

import (
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzPII: no panic; valid UTF-8 stays valid; redacting the output again
// changes nothing; the counts are the matches found; tag mode and a text
// without matches come back unchanged; the IPv6 parser agrees with
// net/netip on the input.
func FuzzPII(f *testing.F) {
	// Every tenth table case: with all ~950 the baseline coverage alone took
	// longer than make test's 10 s of fuzzing on the CI machine.
	for i, c := range piiAllCases(f) {
		if i%10 == 0 {
			f.Add(c.text)
		}
	}
	for _, s := range []string{
		"", "@", "::", "://", "+86", "（", "（+86）", "护照", "8.8.8.8-13800138000", "a@b.cn@c.cn",
		"https://u:p@h", "\xff\xfe13800138000", "13800138000\xe4", "1::2::3", "::ffff:1.2.3.4",
	} {
		f.Add(s)
	}
	p := newTestPII(f, nil)
	tag := newTestPII(f, func(o *PIIOptions) { o.Mode = "tag" })
	f.Fuzz(func(t *testing.T, s string) {
		var counts [piiKinds]int32
		out := p.redact(s, &counts)
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q: %q", s, out)
		}
		var again [piiKinds]int32
		if twice := p.redact(out, &again); twice != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, twice)
		}
		if again != [piiKinds]int32{} {
			t.Fatalf("matches in the output %q: %v", out, again)
		}
		total := 0
		for _, n := range counts {
			total += int(n)
		}
		if spans := piiSpans(p, s); len(spans) != total {
			t.Fatalf("%q: %d spans, counts %v", s, len(spans), counts)
		}
		if total == 0 && out != s {
			t.Fatalf("no match but %q -> %q", s, out)
		}
		var tc [piiKinds]int32
		if tag.redact(s, &tc); tc != counts {
			t.Fatalf("tag mode counts %v, redact %v", tc, counts)
		}
		// Placeholders appear only where matches were.
		if total > 0 && !strings.Contains(out, "<") {
			t.Fatalf("%q: %d matches, no placeholder in %q", s, total, out)
		}
		if len(s) <= 64 {
			a, err := netip.ParseAddr(s)
			want := err == nil && a.Is6() && a.Zone() == ""
			ip, ok := piiParseIPv6(s)
			if ok != want || ok && ip != a.As16() {
				t.Fatalf("piiParseIPv6(%q) = %v %v; netip %v %v", s, ip, ok, a, err)
			}
		}
	})
}
