package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"gopkg.in/yaml.v3"

	"winnow/pipeline"
)

var updateNormalizeGolden = flag.Bool("update-normalize", false, "rewrite stages/testdata/normalize/golden.json with the current outputs")

// normGoldenCase is one case of testdata/normalize/golden.json: options
// (YAML keys, over the defaults), input and expected output.
type normGoldenCase struct {
	Name    string          `json:"name"`
	Options json.RawMessage `json:"options,omitempty"`
	In      string          `json:"in"`
	Want    string          `json:"want"`
}

func goldenNormalizer(t *testing.T, raw json.RawMessage) *normalizer {
	t.Helper()
	return newTestNormalizer(t, func(o *NormalizeOptions) {
		if len(raw) > 0 {
			// YAML is a superset of JSON, and the options have yaml tags.
			if err := yaml.Unmarshal(raw, o); err != nil {
				t.Fatalf("options %s: %v", raw, err)
			}
		}
	})
}

// TestNormalizeGolden runs the hand-checked cases of golden.json.
func TestNormalizeGolden(t *testing.T) {
	path := filepath.Join("testdata", "normalize", "golden.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []normGoldenCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		c := &cases[i]
		n := goldenNormalizer(t, c.Options)
		got := n.apply(c.In).text
		if *updateNormalizeGolden {
			c.Want = got
			continue
		}
		if got != c.Want {
			t.Errorf("%s:\n in   %+q\n got  %+q\n want %+q", c.Name, c.In, got, c.Want)
		}
		if again := n.apply(got).text; again != got {
			t.Errorf("%s: not idempotent: %+q -> %+q", c.Name, got, again)
		}
	}
	if *updateNormalizeGolden {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(cases); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, escapeInvisible(buf.Bytes()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// escapeInvisible rewrites the characters of JSON text that a reader
// cannot see or tell apart (controls, format characters, non-ASCII
// spaces, combining marks, private use) as \u escapes, so the golden file
// can be reviewed.
func escapeInvisible(b []byte) []byte {
	var out []byte
	for _, r := range string(b) {
		if r == '\n' || r == ' ' || unicode.IsGraphic(r) && !unicode.In(r, unicode.Zs, unicode.Mn, unicode.Me, unicode.Cf, unicode.Co) {
			out = utf8.AppendRune(out, r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			out = fmt.Appendf(out, "\\u%04x", u)
		}
	}
	return out
}

// TestNormalizeClassBits checks the shift constants the scan counts with
// against the class bits, and a few classes.
func TestNormalizeClassBits(t *testing.T) {
	for _, c := range []struct {
		bit normClass
		sh  int
	}{{clHan, shHan}, {clKana, shKana}, {clHangul, shHangul}, {clC1, shC1}, {clGBKMoji, shGBKMoji}, {clStrictTrad, shStrictTrad}} {
		if c.bit != 1<<c.sh {
			t.Errorf("bit %#x is not 1<<%d", c.bit, c.sh)
		}
	}
	if clStrictTrad >= 1<<clMojiLead {
		t.Errorf("class bits overlap the mojibake bits")
	}
	if len(sbCodecs()) > 4 { // clMojiLead and clMojiCont hold 4 bits each
		t.Errorf("%d code pages do not fit the class bits", len(sbCodecs()))
	}
	for _, tt := range []struct {
		r    rune
		want normClass
	}{
		{'中', clHan}, {'か', clKana}, {'한', clHangul}, {'\u3000', clWidthAlnum | clSpace},
		{'，', clWidthPunct}, {'…', clWidthPunct}, {'\u200b', clRemove}, {'\ue000', clRemove},
		{'\u0085', clRemove | clC1}, {'ﬁ', clNotNFKC}, {'\u0301', clNotNFC | clNotNFKC},
	} {
		if got := normClassOf(tt.r); got&tt.want != tt.want {
			t.Errorf("class of %U = %#x, want bits %#x", tt.r, got, tt.want)
		}
	}
	if normClassOf('é')&(clNotNFC|clNotNFKC) != 0 || normClassOf('中')&(clNotNFC|clNotNFKC) != 0 {
		t.Errorf("é or 中 taken for not normal")
	}
}

// TestNormalizeSignals checks what apply reports besides the text.
func TestNormalizeSignals(t *testing.T) {
	n := newTestNormalizer(t, nil)
	tests := []struct {
		in        string
		converted bool
		flagged   bool
		repaired  bool
		steps     normSteps
	}{
		{in: "天氣很乾燥", converted: true, steps: stT2S},
		{in: "乾隆皇帝", steps: 0},
		{in: "中文，测试。", steps: 0},
		{in: "Ã©tÃ©", flagged: true, repaired: true, steps: stMojibakeRepaired},
		{in: "锟斤拷锟斤拷", flagged: true},
		{in: "ＡＢ\r\n", steps: stFullwidth | stWhitespace},
		{in: "a\xffb", flagged: true, steps: stInvalidUTF8}, // one U+FFFD in one non-ASCII character
	}
	for _, tt := range tests {
		r := n.apply(tt.in)
		if got := r.steps&stT2S != 0; got != tt.converted {
			t.Errorf("%q: converted %v, want %v", tt.in, got, tt.converted)
		}
		if r.flagged != tt.flagged {
			t.Errorf("%q: flagged %v (score %.2f), want %v", tt.in, r.flagged, r.mojibake, tt.flagged)
		}
		if got := r.steps&stMojibakeRepaired != 0; got != tt.repaired {
			t.Errorf("%q: repaired %v, want %v", tt.in, got, tt.repaired)
		}
		if r.steps != tt.steps {
			t.Errorf("%q: steps %08b, want %08b", tt.in, r.steps, tt.steps)
		}
	}
}

// TestNormalizeBadBytes covers input that is not valid UTF-8, which a
// JSON golden file cannot hold: every bad byte run becomes one U+FFFD, and
// UTF-8-encoded surrogates (CESU-8) are bad bytes.
func TestNormalizeBadBytes(t *testing.T) {
	n := newTestNormalizer(t, nil)
	for in, want := range map[string]string{
		"a\xffb":                   "a\uFFFDb",
		"\xed\xa0\x80\xed\xb0\x80": "\uFFFD",
		"中\xe4\xb8":                "中\uFFFD",
		"\xc0\xaf":                 "\uFFFD",
		"ok\xf5\xf6\xf7":           "ok\uFFFD",
	} {
		got := n.apply(in).text
		if got != want {
			t.Errorf("%+q -> %+q, want %+q", in, got, want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("%+q -> invalid UTF-8 %+q", in, got)
		}
	}
}

// TestNormalizeFastPath checks that a document needing no change is
// returned as it is, without allocating.
func TestNormalizeFastPath(t *testing.T) {
	n := newTestNormalizer(t, nil)
	docs := []string{
		"中文文本，没有需要改动的地方。\n\n第二段。",
		"Plain English text.\nSecond line.",
		"Ελληνικά και русский текст, עברית, العربية.",
		"",
	}
	for _, d := range docs {
		r := n.apply(d)
		if r.text != d || r.steps != 0 {
			t.Errorf("%q changed: %q, steps %b", d, r.text, r.steps)
		}
		if allocs := testing.AllocsPerRun(20, func() { n.apply(d) }); allocs != 0 {
			t.Errorf("%q: %.0f allocations on the fast path", d, allocs)
		}
	}
	// A final line feed is removed by slicing, not copying.
	d := "中文文本。\n"
	if allocs := testing.AllocsPerRun(20, func() { n.apply(d) }); allocs != 0 {
		t.Errorf("trimming a final LF allocated %.0f times", allocs)
	}
}

// TestNormalizeWhitespaceTrimOnly checks that trimDocEnds, the
// substring shortcut, agrees with cleanWhitespace whenever the scan says
// no whitespace issue lies inside the text.
func TestNormalizeWhitespaceTrimOnly(t *testing.T) {
	n := newTestNormalizer(t, nil)
	for _, s := range []string{
		"\n\n  a\nb\n\n", "a  \n", "  \r\n\r\n  indented\n", "\u3000a\u3000\n\u3000", "a\n\nb\n \n",
		"a\u2028", "\u2029\u2029x", " ", "\n", "a\r", "a\n\n\nb", "a \nb", "a\rb",
	} {
		sc := n.scan(s)
		want := cleanWhitespace(s, false)
		if !sc.ws && want != s {
			t.Errorf("%q: scan sees nothing but cleanWhitespace gives %q", s, want)
		}
		if sc.ws && !sc.wsInner {
			if got := trimDocEnds(s); got != want {
				t.Errorf("%q: trimDocEnds %q, cleanWhitespace %q", s, got, want)
			}
		}
	}
}

// TestNormalizeOptionErrors checks that bad options are rejected with the
// stage's position in the message.
func TestNormalizeOptionErrors(t *testing.T) {
	for _, tt := range []struct {
		edit func(*NormalizeOptions)
		want string
	}{
		{func(o *NormalizeOptions) { o.Form = "nfd" }, "form"},
		{func(o *NormalizeOptions) { o.T2S = "yes" }, "t2s"},
		{func(o *NormalizeOptions) { o.T2SMode = "s2t" }, "t2s_mode"},
		{func(o *NormalizeOptions) { o.Mojibake = "fix" }, "mojibake"},
		{func(o *NormalizeOptions) { o.MojibakeThreshold = 0 }, "mojibake_threshold"},
		{func(o *NormalizeOptions) { o.MojibakeDrop = 1.5 }, "mojibake_drop"},
	} {
		o := NormalizeInfo.Defaults().(*NormalizeOptions)
		tt.edit(o)
		_, err := NormalizeInfo.New(o, "cfg.yaml:3: stages[0].normalize")
		if err == nil || !strings.Contains(err.Error(), "stages[0].normalize."+tt.want) {
			t.Errorf("%s: error %v, want one naming it", tt.want, err)
		}
	}
	// YAML 1.1 would read "off" as false; the config decoder keeps it a string.
	var o NormalizeOptions
	if err := yaml.Unmarshal([]byte("t2s: off\nmojibake: off\n"), &o); err != nil || o.T2S != "off" || o.Mojibake != "off" {
		t.Errorf("t2s: off decodes as %+v (%v)", o, err)
	}
}

// TestNormalizeProcess runs the stage on a Batch: the text column is
// replaced for alive rows, dead rows keep theirs and get null signals,
// and every Arrow buffer is released.
func TestNormalizeProcess(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	docs := []pipeline.Doc{
		{Text: "天氣很乾燥\n"},
		{Text: "ＤＥＡＤ row"},
		{Text: "Ã©tÃ©"},
		{Text: "clean"},
		{Text: "锟斤拷锟斤拷"},
	}
	srcs := make([]string, len(docs))
	for i := range docs {
		docs[i].Offset = int64(i)
		srcs[i] = "test.jsonl"
	}
	b := pipeline.NewBatch(mem, 0, docs, srcs, false)
	defer b.Release()
	b.Drop(1, "earlier", "earlier.rule")
	o := NormalizeInfo.Defaults().(*NormalizeOptions)
	o.MojibakeDrop = 0.5
	st, err := NormalizeInfo.New(o, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	texts := b.Texts()
	wantText := []string{"天气很干燥", "ＤＥＡＤ row", "été", "clean", "锟斤拷锟斤拷"}
	for i, w := range wantText {
		if got := texts.Value(i); got != w {
			t.Errorf("row %d: text %q, want %q", i, got, w)
		}
	}
	conv := b.Column("converted_t2s").(*array.Boolean)
	score := b.Column("mojibake_score").(*array.Float64)
	rep := b.Column("mojibake_repaired").(*array.Boolean)
	changed := b.Column("normalize_changed").(*array.Boolean)
	if !conv.Value(0) || conv.Value(2) || !changed.Value(0) || changed.Value(3) || !rep.Value(2) {
		t.Errorf("signals: converted %v, changed %v, repaired %v", conv, changed, rep)
	}
	if !conv.IsNull(1) || !score.IsNull(1) || !rep.IsNull(1) || !changed.IsNull(1) {
		t.Errorf("dead row 1 has signals")
	}
	if score.Value(4) != 1 || b.Alive(4) || b.DropOf(4).Reason != "normalize.mojibake_score>0.5" {
		t.Errorf("row 4: score %v, alive %v, drop %+v", score.Value(4), b.Alive(4), b.DropOf(4))
	}
	if b.DropOf(1).Stage != "earlier" {
		t.Errorf("row 1 drop overwritten: %+v", b.DropOf(1))
	}
}

// TestNormalizeProcessUnchanged checks that a batch with nothing to change
// keeps its text column (no copy).
func TestNormalizeProcessUnchanged(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	docs := []pipeline.Doc{{Text: "中文。"}, {Text: "English."}}
	b := pipeline.NewBatch(mem, 0, docs, []string{"a", "a"}, false)
	defer b.Release()
	before := b.Column(pipeline.ColText)
	st, _ := NormalizeInfo.New(NormalizeInfo.Defaults(), "test")
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if b.Column(pipeline.ColText) != before {
		t.Errorf("unchanged batch got a new text column")
	}
}

// TestNormalizeConcurrent shares one normalizer (and its tables and
// converter) between goroutines, as workers do; run with -race.
func TestNormalizeConcurrent(t *testing.T) {
	docs := []string{"天氣很乾燥，頭髮很亂。", "ＡＢＣ１２３\r\n", "Ã©tÃ©", "搴忚█", "clean", "坐落於倫敦"}
	n := newTestNormalizer(t, nil)
	want := make([]string, len(docs))
	for i, d := range docs {
		want[i] = n.apply(d).text
	}
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			var err error
			for k := 0; k < 200 && err == nil; k++ {
				for i, d := range docs {
					if got := n.apply(d).text; got != want[i] {
						err = fmt.Errorf("%q: %q, want %q", d, got, want[i])
					}
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
