package filters

import (
	"fmt"
	"math"
	"reflect"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"winnow/pipeline"
)

// redecider is a stage whose drop decision is a pure function of columns
// it stored: retune can re-decide it with other thresholds.
type redecider interface {
	pipeline.Stage
	// bindDecide returns the decision for a row of rec ("" = keep).
	bindDecide(rec arrow.RecordBatch) (func(row int) string, error)
}

// NeverDrops marks stages that only add columns or rewrite text; retune
// passes over them. Stages in other packages say so with the same method.
type neverDrops interface{ NeverDrops() }

// Retuner re-decides the documents of a finished run from their stored
// signals with another config's thresholds.
type Retuner struct {
	// first is the position of the first re-decided stage: earlier drops
	// (dedup, language) stand as they are.
	first int
	names []string
	steps []redecider // nil for a stage that never drops
}

// NewRetuner checks that newStages differs from oldStages in thresholds
// only, where a decision is a function of stored signals, and returns the
// re-decider. oldOpts and newOpts are the stages' resolved options.
func NewRetuner(oldStages, newStages []pipeline.Stage, oldOpts, newOpts []any) (*Retuner, error) {
	if len(oldStages) != len(newStages) {
		return nil, fmt.Errorf("the run has %d stages, the new config %d: retune changes thresholds only; re-run for a new stage list", len(oldStages), len(newStages))
	}
	r := &Retuner{first: -1}
	for i, st := range newStages {
		name := st.Name()
		if oldStages[i].Name() != name {
			return nil, fmt.Errorf("stage %d is %s in the run and %s in the new config: retune changes thresholds only", i, oldStages[i].Name(), name)
		}
		r.names = append(r.names, name)
		rd, decides := st.(redecider)
		_, mapper := st.(neverDrops)
		switch {
		case decides && !reflect.DeepEqual(withoutThresholds(oldOpts[i]), withoutThresholds(newOpts[i])):
			return nil, fmt.Errorf("stage %d (%s): options other than thresholds changed, so its stored signals are stale: re-run", i, name)
		case decides:
			if r.first < 0 {
				r.first = i
			}
			r.steps = append(r.steps, rd)
		case mapper:
			r.steps = append(r.steps, nil)
		default:
			if !reflect.DeepEqual(oldOpts[i], newOpts[i]) {
				return nil, fmt.Errorf("stage %d (%s): its options changed, and its decisions are not stored signals: re-run", i, name)
			}
			if r.first >= 0 {
				return nil, fmt.Errorf("stage %d (%s) comes after a re-decided filter and may drop documents on its own (dedup, language): retune cannot know what it would do with documents a filter now keeps; put it before the filters or re-run", i, name)
			}
			r.steps = append(r.steps, nil)
		}
	}
	if r.first < 0 {
		return nil, fmt.Errorf("the config has no filter with stored signals to re-decide")
	}
	return r, nil
}

// StageNames lists the config's stages in order.
func (r *Retuner) StageNames() []string { return r.names }

// Bind prepares the re-decision of rec's rows. dropStage is the run's
// drop_stage column (nil in kept shards).
func (r *Retuner) Bind(rec arrow.RecordBatch) (func(row int, oldStage string) pipeline.Drop, error) {
	decide := make([]func(int) string, len(r.steps))
	for i, st := range r.steps {
		if st == nil {
			continue
		}
		d, err := st.bindDecide(rec)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", r.names[i], err)
		}
		decide[i] = d
	}
	position := map[string]int{}
	for i, n := range r.names {
		if _, seen := position[n]; !seen {
			position[n] = i
		}
	}
	return func(row int, oldStage string) pipeline.Drop {
		if p, ok := position[oldStage]; oldStage != "" && (!ok || p < r.first) {
			return pipeline.Drop{Stage: oldStage} // decided before any filter; stands
		}
		for i := r.first; i < len(decide); i++ {
			if decide[i] == nil {
				continue
			}
			if reason := decide[i](row); reason != "" {
				return pipeline.Drop{Stage: r.names[i], Reason: reason}
			}
		}
		return pipeline.Drop{}
	}, nil
}

// bindDecide reads the family's signal columns and lang.
func (s *familyStage) bindDecide(rec arrow.RecordBatch) (func(int) string, error) {
	cols := make([]*array.Float64, len(s.f.Signals))
	for j, sig := range s.f.Signals {
		c, err := float64Column(rec, s.f.Column(sig.Name))
		if err != nil {
			return nil, err
		}
		cols[j] = c
	}
	langs, _ := columnByName(rec, "lang").(*array.String)
	values := make([]float64, len(cols))
	return func(row int) string {
		for j, c := range cols {
			values[j] = math.NaN()
			if c.IsValid(row) {
				values[j] = c.Value(row)
			}
		}
		lang := ""
		if langs != nil && langs.IsValid(row) {
			lang = langs.Value(row)
		}
		return s.f.Decide(s.th, lang, values)
	}, nil
}

func float64Column(rec arrow.RecordBatch, name string) (*array.Float64, error) {
	c, ok := columnByName(rec, name).(*array.Float64)
	if !ok {
		return nil, fmt.Errorf("the run has no float64 column %s (was it written by another version?)", name)
	}
	return c, nil
}

func columnByName(rec arrow.RecordBatch, name string) arrow.Array {
	for i, f := range rec.Schema().Fields() {
		if f.Name == name {
			return rec.Column(i)
		}
	}
	return nil
}

// bindDecide re-applies the length thresholds to the stored lengths.
func (l *Length) bindDecide(rec arrow.RecordBatch) (func(int) string, error) {
	chars, ok1 := columnByName(rec, "length_chars").(*array.Int64)
	lines, ok2 := columnByName(rec, "length_lines").(*array.Int64)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("the run has no length_chars and length_lines columns")
	}
	return func(row int) string { return l.decide(chars.Value(row), lines.Value(row)) }, nil
}

// NeverDrops: quality_score only adds a column.
func (q *qualityScore) NeverDrops() {}

// withoutThresholds copies a stage's options (a pointer to a struct) with
// the fields tagged retune:"threshold" zeroed: what retune may change.
func withoutThresholds(opts any) any {
	v := reflect.ValueOf(opts)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return opts
	}
	cp := reflect.New(v.Elem().Type()).Elem()
	cp.Set(v.Elem())
	for i := 0; i < cp.NumField(); i++ {
		if cp.Type().Field(i).Tag.Get("retune") == "threshold" {
			cp.Field(i).SetZero()
		}
	}
	return cp.Interface()
}
