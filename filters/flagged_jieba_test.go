//go:build cgo

package filters

import (
	"math"
	"os"
	"testing"

	"github.com/yanyiwu/gojieba"
)

// The filters package never calls jieba: it reads the segment stage's
// words. This test uses jieba (gojieba's own dictionary from the module
// cache, so only where cgo and the cache are there) to feed real words to
// the matcher: the claim that 白痴 does not fire inside 白痴呆症 depends on
// how jieba actually cuts, so it is checked against jieba itself.

func flgJieba(t *testing.T) *gojieba.Jieba {
	t.Helper()
	if _, err := os.Stat(gojieba.DICT_PATH); err != nil {
		t.Skipf("gojieba's dictionary is not at %s", gojieba.DICT_PATH)
	}
	jb := gojieba.NewJieba()
	t.Cleanup(jb.Free)
	return jb
}

func TestFlaggedJiebaWords(t *testing.T) {
	jb := flgJieba(t)
	l := flgTestList(t)
	for _, tc := range []struct {
		text     string
		want     int // with jieba's words
		fallback int // without the segment stage
	}{
		{"他患有白痴呆症吗", 0, 1}, // jieba: 他/患有/白/痴呆症/吗
		{"老年白痴呆症的护理", 0, 1},
		{"你这个白痴", 1, 1},
		{"他妈的，真是个傻逼", 2, 2}, // 傻逼 is cut 傻/逼
		{"他妈妈的病", 0, 1},     // 他/妈妈/的: the fallback sees 他妈
	} {
		words := jb.Cut(tc.text, true)
		if got := flgCount(l, words, tc.text); got != tc.want {
			t.Errorf("%q cut %q: %d matches, want %d", tc.text, words, got, tc.want)
		}
		if got := flgCount(l, nil, tc.text); got != tc.fallback {
			t.Errorf("%q without words: %d matches, want %d", tc.text, got, tc.fallback)
		}
	}
}

// TestFlaggedJiebaRealRecords repeats TestFlaggedRealRecords with jieba's
// words: the counts stay, the Chinese ratios grow (fewer words than
// characters).
func TestFlaggedJiebaRealRecords(t *testing.T) {
	jb := flgJieba(t)
	docs := flgRealDocs(t)
	def := flgTh(t, nil)
	want := []struct {
		count  int
		reason string
	}{
		{5, "flagged_words.flagged_ratio>0.01"},
		{3, ""},
		{10, ""},
		{1, ""},
		{1, ""},
	}
	c := FlaggedFamily.NewComputer()
	for i, d := range docs {
		out := []float64{math.NaN(), math.NaN()}
		c.Compute(&Doc{Text: d.text, Words: jb.Cut(d.text, true), Lang: d.lang}, out)
		r := FlaggedFamily.Decide(def, d.lang, out)
		t.Logf("%s: ratio %.5f count %v: %q", d.name, out[0], out[1], r)
		if int(out[1]) != want[i].count || r != want[i].reason {
			t.Errorf("%s: count %v reason %q, want %d %q", d.name, out[1], r, want[i].count, want[i].reason)
		}
	}
}
