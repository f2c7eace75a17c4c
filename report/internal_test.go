package report

import (
	"reflect"
	"testing"
)

func TestBinRange(t *testing.T) {
	for _, c := range []struct{ min, max, lo, hi float64 }{
		{0, 1, 0, 1},
		{0.2, 0.7, 0, 1},
		{0, 0, 0, 1},
		{3, 250, 3, 250},
		{-0.5, 0.5, -0.5, 0.5},
		{5, 5, 4.5, 5.5},
		{0.5, 1.5, 0.5, 1.5},
	} {
		lo, hi := binRange(c.min, c.max)
		if lo != c.lo || hi != c.hi {
			t.Errorf("binRange(%v, %v) = %v, %v; want %v, %v", c.min, c.max, lo, hi, c.lo, c.hi)
		}
	}
}

func TestBinOf(t *testing.T) {
	for _, c := range []struct {
		v, lo, hi float64
		want      int
	}{
		{0, 0, 1, 0},
		{0.049, 0, 1, 0},
		{0.05, 0, 1, 1},
		{0.5, 0, 1, 10},
		{0.999, 0, 1, 19},
		{1, 0, 1, 19}, // the maximum falls in the last bin
		{-3, 0, 1, 0}, // clamped
		{7, 0, 1, 19},
		{30, 10, 110, 4},
		{5, 5, 5, 0}, // empty range
	} {
		if got := binOf(c.v, c.lo, c.hi, Bins); got != c.want {
			t.Errorf("binOf(%v, %v, %v) = %d, want %d", c.v, c.lo, c.hi, got, c.want)
		}
	}
}

func TestParseThresholds(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []Threshold
	}{
		{"none", "stages:\n  - normalize: {}\n", []Threshold{}},
		{"empty config", "", []Threshold{}},
		{"length", "stages:\n  - length: {min_chars: 30, max_chars: 0, min_lines: 2}\n", []Threshold{
			{Column: "length_chars", Op: "min", Value: 30, Langs: []string{"all"}},
			{Column: "length_lines", Op: "min", Value: 2, Langs: []string{"all"}},
		}},
		{"per language, shared and distinct values, null off", `stages:
  - zh_quality:
      thresholds:
        default: {}
        zh: {max_nav_lines_frac: 0.65, min_han_frac: 0.3}
  - gopher_repetition:
      thresholds:
        default: {max_dup_line_frac: 0.3, max_top_2_gram_char_frac: null}
        zh: {max_dup_line_frac: 0.287}
        en: {max_dup_line_frac: 0.3}
`, []Threshold{
			{Column: "gopher_repetition_dup_line_frac", Op: "max", Value: 0.287, Langs: []string{"zh"}},
			{Column: "gopher_repetition_dup_line_frac", Op: "max", Value: 0.3, Langs: []string{"default", "en"}},
			{Column: "zh_quality_han_frac", Op: "min", Value: 0.3, Langs: []string{"zh"}},
			{Column: "zh_quality_nav_lines_frac", Op: "max", Value: 0.65, Langs: []string{"zh"}},
		}},
		{"integer values and unknown keys", `stages:
  - gopher_quality:
      thresholds:
        default: {min_words: 50, max_words: 100000, weird: 3}
`, []Threshold{
			{Column: "gopher_quality_words", Op: "max", Value: 100000, Langs: []string{"default"}},
			{Column: "gopher_quality_words", Op: "min", Value: 50, Langs: []string{"default"}},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseThresholds([]byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
	if _, err := ParseThresholds([]byte("stages: [\n")); err == nil {
		t.Error("broken YAML parsed")
	}
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in    string
		max   int
		want  string
		trunc bool
	}{
		{"你好世界", 2, "你好", true},
		{"你好", 2, "你好", false},
		{"abc<d>", 4, "abc<", true},
		{"", 3, "", false},
	} {
		got, tr := truncate(c.in, c.max)
		if got != c.want || tr != c.trunc {
			t.Errorf("truncate(%q, %d) = %q, %v", c.in, c.max, got, tr)
		}
	}
}

func TestDupBucket(t *testing.T) {
	for n, want := range map[int64]int{0: 0, 1: 0, 2: 1, 3: 2, 5: 2, 6: 3, 10: 3, 11: 4, 100: 4, 101: 5, 5000: 5} {
		if got := dupBucket(n); got != want {
			t.Errorf("dupBucket(%d) = %d, want %d", n, got, want)
		}
	}
}
