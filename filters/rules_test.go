package filters

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"gopkg.in/yaml.v3"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// toyFamily has a rune count, a share of the letter x (NaN for empty
// texts) and the number of messages.
var toyFamily = &Family{
	Name:    "toy",
	Signals: []Signal{{Name: "chars"}, {Name: "x_frac"}, {Name: "messages"}},
	Rules:   []Rule{{Key: "min_chars", Signal: "chars"}, {Key: "max_x_frac", Signal: "x_frac"}, {Key: "max_chars", Signal: "chars"}},
	Defaults: map[string]map[string]float64{
		"default": {"min_chars": 3, "max_x_frac": 0.5},
		"zh":      {"min_chars": 2},
	},
	NewComputer: func() Computer { return toyComputer{} },
}

type toyComputer struct{}

func (toyComputer) Compute(d *Doc, out []float64) {
	n := utf8.RuneCountInString(d.Text)
	out[0] = float64(n)
	if n > 0 {
		out[1] = float64(strings.Count(d.Text, "x")) / float64(n)
	}
	out[2] = float64(len(d.Messages))
}

func resolveYAML(t *testing.T, yml string) (Thresholds, error) {
	t.Helper()
	opts := toyFamily.defaultOptions()
	if yml != "" {
		// Decode as the registry does: over the defaults.
		if err := yaml.Unmarshal([]byte(yml), opts); err != nil {
			t.Fatal(err)
		}
	}
	return toyFamily.resolve(opts.Thresholds, "c.yaml:3: stages[0].toy")
}

func TestDecideThresholdsPerLanguage(t *testing.T) {
	for _, c := range []struct {
		name, yml, lang, text, want string
	}{
		{"default min passes at the threshold", "", "en", "abc", ""},
		{"default min fails below", "", "en", "ab", "toy.chars<3"},
		{"zh has its own min", "", "zh", "好的", ""},
		{"zh falls back to default for x_frac", "", "zh", "xx好", "toy.x_frac>0.5"},
		{"no lang is default", "", "", "ab", "toy.chars<3"},
		{"first failing rule wins", "", "en", "x", "toy.chars<3"},
		{"NaN fails no rule", "{thresholds: {default: {min_chars: 0}}}", "en", "", ""},
		{"a config key overrides one default", "{thresholds: {zh: {min_chars: 5}}}", "zh", "好的好的", "toy.chars<5"},
		{"a config language keeps its other defaults", "{thresholds: {default: {min_chars: 1}}}", "en", "xxy", "toy.x_frac>0.5"},
		{"null switches a rule off", "{thresholds: {default: {max_x_frac: null}}}", "en", "xxxx", ""},
		{"a rule with no default can be switched on", "{thresholds: {en: {max_chars: 4}}}", "en", "abcde", "toy.chars>4"},
		{"a new language inherits default", "{thresholds: {fr: {max_chars: 4}}}", "fr", "ab", "toy.chars<3"},
		{"thresholds print in shortest form", "{thresholds: {default: {max_x_frac: 0.125}}}", "en", "xabcdefgh", ""},
		{"thresholds print in shortest form, failing", "{thresholds: {default: {max_x_frac: 0.1}}}", "en", "xabcdefgh", "toy.x_frac>0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			th, err := resolveYAML(t, c.yml)
			if err != nil {
				t.Fatal(err)
			}
			vals := []float64{math.NaN(), math.NaN(), math.NaN()}
			toyComputer{}.Compute(&Doc{Text: c.text, Lang: c.lang}, vals)
			if got := toyFamily.Decide(th, c.lang, vals); got != c.want {
				t.Errorf("Decide(%q, %q) = %q, want %q", c.lang, c.text, got, c.want)
			}
		})
	}
}

func TestThresholdErrors(t *testing.T) {
	for _, c := range []struct{ yml, want string }{
		{"{thresholds: {default: {min_char: 3}}}", `c.yaml:3: stages[0].toy: thresholds.default: unknown rule "min_char"; rules: min_chars, max_x_frac, max_chars`},
		{"{thresholds: {Chinese: {min_chars: 3}}}", `thresholds: "Chinese" is not a language code`},
		{"{thresholds: {en: {min_chars: .nan}}}", `thresholds.en.min_chars: NaN is not a threshold`},
	} {
		_, err := resolveYAML(t, c.yml)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.yml, err, c.want)
		}
	}
}

// Process stores every signal for every row, dropped ones included, drops
// by the row's lang, and reads instruction messages.
func TestFamilyStageProcess(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	docs := []pipeline.Doc{
		{Text: "abc"}, {Text: "ab"}, {Text: "好的"}, {Text: ""},
		{Text: "xxq", Messages: []pipeline.Message{{Role: "user", Content: "q"}, {Role: "assistant", Content: "xx"}}},
	}
	b := pipeline.NewBatch(mem, 0, docs, []string{"s", "s", "s", "s", "s"}, true)
	defer b.Release()
	lb := array.NewStringBuilder(mem)
	lb.AppendValues([]string{"en", "en", "zh", "en", "en"}, nil)
	if err := b.SetColumn(arrow.Field{Name: "lang", Type: arrow.BinaryTypes.String}, lb.NewArray()); err != nil {
		t.Fatal(err)
	}
	lb.Release()
	b.Drop(0, "earlier", "earlier.reason")
	th, _ := resolveYAML(t, "")
	st := newFamilyStage(toyFamily, th)
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	chars := b.Column("toy_chars").(*array.Float64)
	xfrac := b.Column("toy_x_frac").(*array.Float64)
	msgs := b.Column("toy_messages").(*array.Float64)
	if chars.Value(0) != 3 || !xfrac.IsNull(3) || xfrac.Value(4) != 2.0/3 || msgs.Value(4) != 2 || msgs.Value(0) != 0 {
		t.Errorf("signals: chars %v, x_frac %v, messages %v", chars, xfrac, msgs)
	}
	want := []pipeline.Drop{{Stage: "earlier", Reason: "earlier.reason"}, {Stage: "toy", Reason: "toy.chars<3"}, {}, {Stage: "toy", Reason: "toy.chars<3"}, {Stage: "toy", Reason: "toy.x_frac>0.5"}}
	for i, w := range want {
		if got := b.DropOf(i); got != w {
			t.Errorf("row %d: drop %+v, want %+v", i, got, w)
		}
	}
}

// Families of one chain share the batch's token stream statistics: the
// signals are the same as each family computing its own, in any order.
func TestSharedTokensSameSignals(t *testing.T) {
	docs := []pipeline.Doc{
		{Text: "今天天气很好。我们去公园散步吧！\n今天天气很好。"},
		{Text: "The quick brown fox jumps over the lazy dog. The quick brown fox."},
		{Text: ""},
		{Text: "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十"},
	}
	run := func(families ...*Family) *pipeline.Batch {
		b := pipeline.NewBatch(memory.NewGoAllocator(), 0, docs, make([]string, len(docs)), false)
		b.Tokens = [][]string{{"今天", "天气", "很", "好", "我们", "去", "公园", "散步", "吧", "今天", "天气", "很", "好"}, nil, nil, nil}
		for _, f := range families {
			th, err := f.resolve(f.defaultOptions().Thresholds, "test")
			if err != nil {
				t.Fatal(err)
			}
			if err := newFamilyStage(f, th).Process(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	for _, order := range [][]*Family{{GopherRepetition, FineWeb, GopherQuality}, {FineWeb, GopherQuality, GopherRepetition}} {
		shared := run(order...)
		for _, f := range order {
			alone := run(f)
			for _, sig := range f.Signals {
				a, b := shared.Column(f.Column(sig.Name)), alone.Column(f.Column(sig.Name))
				if !array.Equal(a, b) {
					t.Errorf("%s after %s: shared %v, alone %v", f.Column(sig.Name), order[0].Name, a, b)
				}
			}
			alone.Release()
		}
		if shared.Scratch(tuSharedKey{}) == nil {
			t.Error("no shared token stream statistics kept during the chain")
		}
		shared.Release()
	}
}

// benchComputer runs a fresh computer of f over docs per iteration and
// reports MB/s and MB/cpu-s of the given input bytes.
func benchComputer(b *testing.B, f *Family, docs []Doc, bytes int64) {
	c := f.NewComputer()
	out := make([]float64, len(f.Signals))
	b.SetBytes(bytes)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testenv.ProcessCPU()
	for b.Loop() {
		for i := range docs {
			c.Compute(&docs[i], out)
		}
	}
	testenv.ReportMBPerCPU(b, bytes, testenv.ProcessCPU()-cpu)
}

// -update rewrites the golden signal files under testdata/.
var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden writes got as JSON to path under -update and returns false;
// otherwise it reads path into want and returns true.
func golden(t *testing.T, path string, got, want any) bool {
	t.Helper()
	if *updateGolden {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if err := json.Unmarshal(b, want); err != nil {
		t.Fatal(err)
	}
	return true
}

// signalMap names a family's signal values, nil for NaN, as the golden
// files store them.
func signalMap(f *Family, v []float64) map[string]*float64 {
	m := map[string]*float64{}
	for i, s := range f.Signals {
		m[s.Name] = nil
		if !math.IsNaN(v[i]) {
			x := v[i]
			m[s.Name] = &x
		}
	}
	return m
}
