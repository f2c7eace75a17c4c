package filters

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"winnow/pipeline"
)

// QualityComponent maps one signal column onto [0, 1]: Bad scores 0, Good
// scores 1, values between are linear and values beyond are clamped.
type QualityComponent struct {
	Column string  `yaml:"column"`
	Bad    float64 `yaml:"bad"`
	Good   float64 `yaml:"good"`
	Weight float64 `yaml:"weight"`
}

// QualityScoreOptions are the options of the quality_score stage.
type QualityScoreOptions struct {
	Components []QualityComponent `yaml:"components" doc:"signal columns averaged into quality_score: each maps bad -> 0 and good -> 1 linearly (clamped), weighted; a column a run lacks, or a null value, is left out of that document's average"`
}

// defaultQualityComponents score what the default recipes compute; each
// bad value is where the matching rule's default threshold drops a
// document, so a document just kept scores near 0 on that component.
func defaultQualityComponents() []QualityComponent {
	return []QualityComponent{
		{Column: "lang_score", Bad: 0.5, Good: 1, Weight: 1},
		{Column: "mojibake_score", Bad: 0.05, Good: 0, Weight: 1},
		{Column: "gopher_repetition_dup_line_frac", Bad: 0.3, Good: 0, Weight: 1},
		{Column: "gopher_repetition_top_2_gram_char_frac", Bad: 0.25, Good: 0.05, Weight: 1},
		{Column: "fineweb_line_punct_ratio", Bad: 0.1, Good: 0.6, Weight: 1},
		{Column: "fineweb_short_line_ratio", Bad: 0.67, Good: 0.1, Weight: 1},
		{Column: "text_stats_special_char_frac", Bad: 0.6, Good: 0.15, Weight: 1},
		{Column: "zh_quality_nav_lines_frac", Bad: 0.65, Good: 0.2, Weight: 1},
		{Column: "zh_quality_rep_13gram_char_frac", Bad: 0.5, Good: 0.05, Weight: 1},
		{Column: "flagged_words_flagged_ratio", Bad: 0.01, Good: 0, Weight: 2},
	}
}

// QualityScoreInfo registers quality_score.
var QualityScoreInfo = pipeline.StageInfo{
	Name: "quality_score",
	Doc:  "composite quality_score in [0,1]: a weighted mean of signal columns mapped linearly from a bad value (0) to a good one (1); used by dedup's keep: quality and by sampling",
	Defaults: func() any {
		return &QualityScoreOptions{Components: defaultQualityComponents()}
	},
	New: func(o any, where string) (pipeline.Stage, error) {
		opts := o.(*QualityScoreOptions)
		for i, c := range opts.Components {
			switch {
			case c.Column == "":
				return nil, fmt.Errorf("%s: components[%d]: column is empty", where, i)
			case c.Bad == c.Good:
				return nil, fmt.Errorf("%s: components[%d] (%s): bad and good are both %v", where, i, c.Column, c.Bad)
			case !(c.Weight > 0):
				return nil, fmt.Errorf("%s: components[%d] (%s): weight %v must be positive", where, i, c.Column, c.Weight)
			}
		}
		return &qualityScore{components: opts.Components}, nil
	},
}

type qualityScore struct{ components []QualityComponent }

func (q *qualityScore) Name() string { return "quality_score" }

// Process scores every row, dropped ones included, like any signal.
func (q *qualityScore) Process(ctx context.Context, b *pipeline.Batch) error {
	cols := make([]arrow.Array, len(q.components))
	for i, c := range q.components {
		cols[i] = b.Column(c.Column)
	}
	out := array.NewFloat64Builder(b.Allocator())
	defer out.Release()
	for row := 0; row < b.Len(); row++ {
		if s, ok := q.score(cols, row); ok {
			out.Append(s)
		} else {
			out.AppendNull()
		}
	}
	return b.SetColumn(arrow.Field{Name: "quality_score", Type: arrow.PrimitiveTypes.Float64, Nullable: true}, out.NewArray())
}

// score is Σ w·clamp((v−bad)/(good−bad), 0, 1) / Σ w over the components
// with a value; false when none has one.
func (q *qualityScore) score(cols []arrow.Array, row int) (float64, bool) {
	var sum, weights float64
	for i, c := range q.components {
		v, ok := pipeline.NumberAt(cols[i], row)
		if !ok {
			continue
		}
		s := math.Min(1, math.Max(0, (v-c.Bad)/(c.Good-c.Bad)))
		sum += c.Weight * s
		weights += c.Weight
	}
	if weights == 0 {
		return 0, false
	}
	return math.Round(sum/weights*1e4) / 1e4, true
}
