package filters

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/pipeline"
)

func TestQualityScore(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	docs := make([]pipeline.Doc, 5)
	for i := range docs {
		docs[i].Text = "文本"
	}
	b := pipeline.NewBatch(mem, 0, docs, []string{"s", "s", "s", "s", "s"}, false)
	defer b.Release()
	set := func(name string, vals []float64, valid []bool) {
		fb := array.NewFloat64Builder(mem)
		defer fb.Release()
		fb.AppendValues(vals, valid)
		if err := b.SetColumn(arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}, fb.NewArray()); err != nil {
			t.Fatal(err)
		}
	}
	// Row by row: both good; both bad; halfway each; one null; both null.
	set("a", []float64{1, 0.5, 0.75, 1, 0}, []bool{true, true, true, true, false})
	set("b", []float64{0, 0.1, 0.05, 0, 0}, []bool{true, true, true, false, false})
	b.Drop(1, "x", "x.y") // dropped rows are scored too
	st, err := QualityScoreInfo.New(&QualityScoreOptions{Components: []QualityComponent{
		{Column: "a", Bad: 0.5, Good: 1, Weight: 1},
		{Column: "b", Bad: 0.1, Good: 0, Weight: 3},
		{Column: "absent", Bad: 0, Good: 1, Weight: 5},
	}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	got := b.Column("quality_score").(*array.Float64)
	want := []float64{1, 0, 0.5, 1}
	for i, w := range want {
		if got.IsNull(i) || got.Value(i) != w {
			t.Errorf("row %d: score %v, want %v", i, got.ValueStr(i), w)
		}
	}
	if !got.IsNull(4) {
		t.Errorf("row 4 has no component value but scores %v", got.Value(4))
	}
}

func TestQualityScoreOptionErrors(t *testing.T) {
	for _, c := range []struct {
		comp QualityComponent
		want string
	}{
		{QualityComponent{Bad: 0, Good: 1, Weight: 1}, "column is empty"},
		{QualityComponent{Column: "a", Bad: 1, Good: 1, Weight: 1}, "bad and good are both 1"},
		{QualityComponent{Column: "a", Bad: 0, Good: 1}, "weight 0 must be positive"},
	} {
		_, err := QualityScoreInfo.New(&QualityScoreOptions{Components: []QualityComponent{c.comp}}, "c.yaml:4: stages[3].quality_score")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "c.yaml:4: stages[3].quality_score: components[0]") {
			t.Errorf("%+v: err = %v, want %q", c.comp, err, c.want)
		}
	}
}
