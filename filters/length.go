// Package filters holds the quality filters: each computes named signals per
// document, stores them as columns, and drops a row when a rule over those
// signals fails. Deciding from stored signals only is what makes thresholds
// cheap to re-tune later.
package filters

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"winnow/pipeline"
)

// LengthOptions are the length filter's thresholds; 0 disables a bound.
type LengthOptions struct {
	MinChars int64 `yaml:"min_chars" retune:"threshold" doc:"drop documents with fewer characters (Unicode code points)"`
	MaxChars int64 `yaml:"max_chars" retune:"threshold" doc:"drop documents with more characters; 0 = no limit"`
	MinLines int64 `yaml:"min_lines" retune:"threshold" doc:"drop documents with fewer non-blank lines"`
}

// Length drops documents outside a character or line-count range. Signals:
// length_chars, length_lines.
type Length struct{ opts LengthOptions }

// LengthInfo registers the length filter.
var LengthInfo = pipeline.StageInfo{
	Name:     "length",
	Doc:      "drops documents outside a character / line-count range (signals length_chars, length_lines)",
	Defaults: func() any { return &LengthOptions{MinChars: 1} },
	New: func(o any, where string) (pipeline.Stage, error) {
		opts := *o.(*LengthOptions)
		if opts.MinChars < 0 || opts.MaxChars < 0 || opts.MinLines < 0 {
			return nil, fmt.Errorf("%s: thresholds must not be negative", where)
		}
		if opts.MaxChars > 0 && opts.MaxChars < opts.MinChars {
			return nil, fmt.Errorf("%s: max_chars %d is below min_chars %d", where, opts.MaxChars, opts.MinChars)
		}
		return &Length{opts: opts}, nil
	},
}

// Name implements pipeline.Stage.
func (l *Length) Name() string { return "length" }

// Process computes the signals for every row (dropped rows included, so
// rejected shards show them too) and drops alive rows that fail a rule.
func (l *Length) Process(ctx context.Context, b *pipeline.Batch) error {
	texts := b.Texts()
	chars := array.NewInt64Builder(b.Allocator())
	lines := array.NewInt64Builder(b.Allocator())
	defer chars.Release()
	defer lines.Release()
	for i := 0; i < b.Len(); i++ {
		t := texts.Value(i)
		nc, nl := int64(tuCharCount(t)), countLines(t)
		chars.Append(nc)
		lines.Append(nl)
		if reason := l.decide(nc, nl); reason != "" && b.Alive(i) {
			b.Drop(i, "length", reason)
		}
	}
	if err := b.SetColumn(arrow.Field{Name: "length_chars", Type: arrow.PrimitiveTypes.Int64}, chars.NewArray()); err != nil {
		return err
	}
	return b.SetColumn(arrow.Field{Name: "length_lines", Type: arrow.PrimitiveTypes.Int64}, lines.NewArray())
}

// decide is the first failing rule for these lengths, or "".
func (l *Length) decide(chars, lines int64) string {
	switch {
	case chars < l.opts.MinChars:
		return fmt.Sprintf("length.chars<%d", l.opts.MinChars)
	case l.opts.MaxChars > 0 && chars > l.opts.MaxChars:
		return fmt.Sprintf("length.chars>%d", l.opts.MaxChars)
	case lines < l.opts.MinLines:
		return fmt.Sprintf("length.lines<%d", l.opts.MinLines)
	}
	return ""
}

// countLines counts lines holding something other than white space.
func countLines(t string) int64 {
	var n int64
	for line := range strings.Lines(t) {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return n
}
