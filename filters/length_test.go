package filters

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/pipeline"
)

func TestLength(t *testing.T) {
	tests := []struct {
		name   string
		opts   LengthOptions
		text   string
		reason string // "" = kept
		chars  int64
		lines  int64
	}{
		{"kept", LengthOptions{MinChars: 3}, "中文文本", "", 4, 1},
		{"too short in characters, not bytes", LengthOptions{MinChars: 5}, "中文文本", "length.chars<5", 4, 1},
		{"too long", LengthOptions{MaxChars: 3}, "abcd", "length.chars>3", 4, 1},
		{"blank lines do not count", LengthOptions{MinLines: 3}, "a\n\n  \nb\n", "length.lines<3", 8, 2},
		{"enough lines", LengthOptions{MinLines: 2}, "一\r\n二", "", 4, 2},
		{"empty", LengthOptions{MinChars: 1}, "", "length.chars<1", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			b := pipeline.NewBatch(mem, 0, []pipeline.Doc{{Text: tc.text}}, []string{"s"}, false)
			defer b.Release()
			st, err := LengthInfo.New(&tc.opts, "test")
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Process(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			if got := b.DropOf(0).Reason; got != tc.reason || b.Alive(0) != (tc.reason == "") {
				t.Errorf("drop reason %q (alive %v), want %q", got, b.Alive(0), tc.reason)
			}
			chars := b.Column("length_chars").(*array.Int64).Value(0)
			lines := b.Column("length_lines").(*array.Int64).Value(0)
			if chars != tc.chars || lines != tc.lines {
				t.Errorf("signals chars=%d lines=%d, want %d %d", chars, lines, tc.chars, tc.lines)
			}
		})
	}
}

func TestLengthOptionErrors(t *testing.T) {
	for _, o := range []LengthOptions{{MinChars: -1}, {MinChars: 10, MaxChars: 5}} {
		_, err := LengthInfo.New(&o, "p.yaml:3: stages[0].length")
		if err == nil || !strings.HasPrefix(err.Error(), "p.yaml:3: stages[0].length: ") {
			t.Errorf("options %+v: err %v", o, err)
		}
	}
}
