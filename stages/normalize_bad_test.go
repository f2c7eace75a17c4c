package stages

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestNormalizeBadInput gives each kind of degenerate input a defined
// outcome.
func TestNormalizeBadInput(t *testing.T) {
	n := newTestNormalizer(t, nil)
	tests := []struct {
		name, in, want string
		flagged        bool
	}{
		{name: "empty", in: "", want: ""},
		{name: "white space only", in: " \t\r\n\u3000\n", want: ""},
		{name: "punctuation only", in: "，。！？：；「」……——", want: "，。！？：；「」……——"},
		{name: "ASCII punctuation only", in: "!?...---", want: "!?...---"},
		{name: "emoji only", in: "😀🎉👍🏽👨\u200d👩\u200d👧", want: "😀🎉👍🏽👨\u200d👩\u200d👧"},
		{name: "controls only", in: "\x00\x01\u200b\ufeff", want: ""},
		{name: "U+FFFD kept and flagged", in: "好\uFFFD\uFFFD", want: "好\uFFFD\uFFFD", flagged: true},
		{name: "invalid surrogate (CESU-8)", in: "a\xed\xa0\xbd\xed\xb8\x80b", want: "a\uFFFDb", flagged: true},
		{name: "lone continuation bytes", in: "\x80\x80中", want: "\uFFFD中", flagged: true},
	}
	for _, tt := range tests {
		r := n.apply(tt.in)
		if r.text != tt.want || r.flagged != tt.flagged {
			t.Errorf("%s: %+q -> %+q flagged %v (%.2f), want %+q flagged %v", tt.name, tt.in, r.text, r.flagged, r.mojibake, tt.want, tt.flagged)
		}
	}
}

// TestNormalizeHugeRepeats feeds 50 MB of one repeated character for
// characters that exercise each step (10 MB for those taking the slow
// paths: NFKC of a single 10 MB segment, mojibake scoring and repair; a
// tenth of that under the race detector), and checks the time grows
// linearly: the full text may take at most 20 times as long as a tenth of
// it (10 times the size, plus slack for GC).
func TestNormalizeHugeRepeats(t *testing.T) {
	if testing.Short() {
		t.Skip("big inputs")
	}
	n := newTestNormalizer(t, func(o *NormalizeOptions) { o.T2S = t2sAlways })
	for _, tt := range []struct {
		unit string
		mb   int
	}{
		{"a", 50}, {"中", 50}, {"國", 50}, {"乾", 50}, {"Ａ", 50}, {"，", 50}, {" ", 50}, {"\n", 50},
		{"\r\n", 50}, {"\u200b", 50}, {"\u200d", 50}, {"Ã", 50}, {"😀", 50}, {"é", 50},
		{"\u0301", 10}, {"ﬁ", 10}, {"Ã©", 10}, {"\u0092", 10}, {"锟斤拷", 10}, {"\uFFFD", 10}, {"搴忚", 10},
	} {
		size := tt.mb << 20
		if raceEnabled {
			size /= 10
		}
		run := func(size int) (time.Duration, normResult) {
			s := strings.Repeat(tt.unit, size/len(tt.unit))
			start := time.Now()
			r := n.apply(s)
			return time.Since(start), r
		}
		small, _ := run(size / 10)
		long, r := run(size)
		t.Logf("%+q × %d MB: %v (%.0f MB/s); a tenth: %v; steps %08b, score %.2f, %d bytes out",
			tt.unit, size>>20, long.Round(time.Millisecond), float64(size)/1e6/long.Seconds(), small.Round(time.Millisecond), r.steps, r.mojibake, len(r.text))
		// Linearity is logged, not asserted: timed assertions fail on a
		// loaded CI machine. A super-linear path shows here in the log,
		// and as the test binary's timeout at 50 MB.
		if !utf8.ValidString(r.text) {
			t.Errorf("%+q: invalid UTF-8 out", tt.unit)
		}
	}
}
