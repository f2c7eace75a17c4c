package dedup

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/pipeline"
)

// keepMetaResolver writes metas as the collector's meta file (one
// metaSize record per ordinal) and returns a resolver reading it.
func keepMetaResolver(t *testing.T, keep string, metas []docMeta) *resolver {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meta.fx")
	w, err := CreateFixed(path, metaSize)
	if err != nil {
		t.Fatal(err)
	}
	var rec [metaSize]byte
	for _, m := range metas {
		binary.LittleEndian.PutUint64(rec[0:], m.length)
		binary.LittleEndian.PutUint64(rec[8:], math.Float64bits(m.quality))
		binary.LittleEndian.PutUint64(rec[16:], uint64(m.weight))
		if err := w.Append(rec[:]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenFixed(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &resolver{core: &clusterCore{keep: keep}, meta: r}
}

// keepMeta makes metas of the given lengths, qualities and weights.
func keepMeta(lengths []uint64, quality []float64, weight []int64) []docMeta {
	n := max(len(lengths), len(quality), len(weight))
	metas := make([]docMeta, n)
	for i := range metas {
		metas[i] = docMeta{length: 10, quality: math.Inf(-1), weight: 1}
		if i < len(lengths) {
			metas[i].length = lengths[i]
		}
		if i < len(quality) {
			metas[i].quality = quality[i]
		}
		if i < len(weight) {
			metas[i].weight = weight[i]
		}
	}
	return metas
}

func TestKeepChoose(t *testing.T) {
	inf := math.Inf(-1)
	cases := []struct {
		name       string
		keep       string
		metas      []docMeta
		members    []uint64
		keeper     uint64
		size       uint64
		readsMetas bool
	}{
		{"first", "first", keepMeta([]uint64{10, 20, 30}, nil, nil), []uint64{0, 1, 2}, 0, 3, true},
		{"first of a later cluster", "first", keepMeta([]uint64{10, 20, 30, 40}, nil, nil), []uint64{2, 3}, 2, 2, true},
		{"longest", "longest", keepMeta([]uint64{10, 20, 30}, nil, nil), []uint64{0, 1, 2}, 2, 3, true},
		{"longest tie: earliest", "longest", keepMeta([]uint64{5, 9, 9, 2}, nil, nil), []uint64{0, 1, 2, 3}, 1, 4, true},
		{"longest all equal", "longest", keepMeta([]uint64{7, 7, 7}, nil, nil), []uint64{0, 1, 2}, 0, 3, true},
		{"longest of a subset", "longest", keepMeta([]uint64{50, 5, 99, 7}, nil, nil), []uint64{1, 3}, 3, 2, true},
		{"longest: first is longest", "longest", keepMeta([]uint64{8, 3, 8}, nil, nil), []uint64{0, 1, 2}, 0, 3, true},
		{"quality", "quality", keepMeta(nil, []float64{0.5, 0.9, 0.9, 0.1}, nil), []uint64{0, 1, 2, 3}, 1, 4, true},
		{"quality all absent", "quality", keepMeta(nil, []float64{inf, inf, inf}, nil), []uint64{0, 1, 2}, 0, 3, true},
		{"quality absent then scored", "quality", keepMeta(nil, []float64{inf, inf, 0.1}, nil), []uint64{0, 1, 2}, 2, 3, true},
		{"quality zero beats absent", "quality", keepMeta(nil, []float64{inf, 0}, nil), []uint64{0, 1}, 1, 2, true},
		{"quality negative scores", "quality", keepMeta(nil, []float64{-0.5, -0.2, -0.9}, nil), []uint64{0, 1, 2}, 1, 3, true},
		{"quality scored then absent", "quality", keepMeta(nil, []float64{0.3, inf}, nil), []uint64{0, 1}, 0, 2, true},
		{"quality +Inf", "quality", keepMeta(nil, []float64{1e300, math.Inf(1), 2}, nil), []uint64{0, 1, 2}, 1, 3, true},
		{"quality ignores length", "quality", keepMeta([]uint64{100, 1}, []float64{0.1, 0.2}, nil), []uint64{0, 1}, 1, 2, true},
		{"longest ignores quality", "longest", keepMeta([]uint64{100, 1}, []float64{0.1, 0.2}, nil), []uint64{0, 1}, 0, 2, true},
		{"size sums weights", "first", keepMeta(nil, nil, []int64{1, 3, 2}), []uint64{0, 1, 2}, 0, 6, true},
		{"size: weight 0 and negative count 1", "first", keepMeta(nil, nil, []int64{0, -4, 5}), []uint64{0, 1, 2}, 0, 7, true},
		{"size of a subset", "quality", keepMeta(nil, []float64{0.9, 0.1, 0.5}, []int64{7, 2, 3}), []uint64{1, 2}, 2, 5, true},
		{"an index document wins", "longest", keepMeta([]uint64{10, 900, 20}, nil, []int64{2, 1, 3}),
			[]uint64{0, 2, indexDocBit | 5, indexDocBit | 7}, indexDocBit | 5, 2 + 3 + 2, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := keepMetaResolver(t, c.keep, c.metas)
			keeper, size, err := r.choose(c.members)
			if err != nil {
				t.Fatal(err)
			}
			if keeper != c.keeper || size != c.size {
				t.Errorf("choose(%v) = keeper %#x size %d, want %#x size %d", c.members, keeper, size, c.keeper, c.size)
			}
		})
	}
	// A member beyond the meta file is an error, not a zero record.
	r := keepMetaResolver(t, "first", keepMeta([]uint64{1}, nil, nil))
	if _, _, err := r.choose([]uint64{0, 3}); err == nil {
		t.Error("choose of an ordinal past the meta file: no error")
	}
}

// keepRow is one input row of TestKeepQualityColumn: a text, a
// quality_score (nil: null) and a prior dup_cluster_size (0: null).
type keepRow struct {
	text    string
	quality any
	weight  int64
}

// keepRunExact drives exact_dedup through Process, the collector, the
// decider and Apply over rows cut into batches of batchRows, and returns
// each row's kept member (as its index), dup_cluster_size and dup_of.
func keepRunExact(t *testing.T, opts ExactOptions, rows []keepRow, batchRows int) (keeper []int, size []int64, dupOf []string) {
	t.Helper()
	ctx := context.Background()
	st, err := newExactStage(&opts, "test")
	if err != nil {
		t.Fatal(err)
	}
	col, err := st.NewCollector(pipeline.GlobalEnv{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewGoAllocator()
	var batches []*pipeline.Batch
	for lo := 0; lo < len(rows); lo += batchRows {
		part := rows[lo:min(lo+batchRows, len(rows))]
		docs := make([]pipeline.Doc, len(part))
		sources := make([]string, len(part))
		q := array.NewFloat64Builder(mem)
		w := array.NewInt64Builder(mem)
		for i, r := range part {
			docs[i] = pipeline.Doc{ID: "r" + strconv.Itoa(lo+i), Text: r.text}
			sources[i] = "test"
			if f, ok := r.quality.(float64); ok {
				q.Append(f)
			} else {
				q.AppendNull()
			}
			if r.weight > 0 {
				w.Append(r.weight)
			} else {
				w.AppendNull()
			}
		}
		b := pipeline.NewBatch(mem, int64(len(batches)), docs, sources, false)
		if err := b.SetColumn(arrow.Field{Name: colQualityScore, Type: arrow.PrimitiveTypes.Float64, Nullable: true}, q.NewArray()); err != nil {
			t.Fatal(err)
		}
		if err := b.SetColumn(arrow.Field{Name: ColDupClusterSize, Type: arrow.PrimitiveTypes.Int64, Nullable: true}, w.NewArray()); err != nil {
			t.Fatal(err)
		}
		q.Release()
		w.Release()
		if err := st.Process(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := col.Add(b); err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b)
	}
	dec, err := col.Resolve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	index := map[string]int{}
	for i := range rows {
		index["r"+strconv.Itoa(i)] = i
	}
	for _, b := range batches {
		if err := dec.Attach(b); err != nil {
			t.Fatal(err)
		}
		if err := st.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
		ids := b.Column(pipeline.ColID).(*array.String)
		sizes := b.Column(ColDupClusterSize).(*array.Int64)
		ofs := b.Column(ColDupOf).(*array.String)
		for i := 0; i < b.Len(); i++ {
			id := ids.Value(i)
			k := index[id]
			of := ""
			if ofs.IsValid(i) {
				of = ofs.Value(i)
				k = index[of]
			}
			if b.Alive(i) == ofs.IsValid(i) {
				t.Errorf("%s: alive %v but dup_of %q", id, b.Alive(i), of)
			}
			if d := b.DropOf(i); !b.Alive(i) && (d.Stage != exactName || d.Reason != "exact_duplicate") {
				t.Errorf("%s: dropped by %+v", id, d)
			}
			keeper = append(keeper, k)
			size = append(size, sizes.Value(i))
			dupOf = append(dupOf, of)
		}
		b.Release()
	}
	if err := dec.Close(); err != nil {
		t.Fatal(err)
	}
	return keeper, size, dupOf
}

// keep: quality keeps the highest quality_score; NaN and null count as
// absent (below every score), ties go to the earliest; a prior
// dup_cluster_size is summed into the cluster's size.
func TestKeepQualityColumn(t *testing.T) {
	nan := math.NaN()
	const same, other = "同一段文字。", "另一段文字。"
	cases := []struct {
		name   string
		keep   string
		rows   []keepRow
		keeper []int
		size   []int64
	}{
		{"highest score, ties earliest", "quality",
			[]keepRow{{same, nan, 0}, {same, nil, 0}, {same, 0.2, 0}, {other, 0.99, 0}, {same, 0.7, 0}, {same, nan, 0}, {same, 0.7, 0}, {same, -1.0, 0}},
			[]int{4, 4, 4, 3, 4, 4, 4, 4}, []int64{7, 7, 7, 1, 7, 7, 7, 7}},
		{"NaN first does not block a score", "quality",
			[]keepRow{{same, nan, 0}, {same, -3.0, 0}},
			[]int{1, 1}, []int64{2, 2}},
		{"null first does not block a score", "quality",
			[]keepRow{{same, nil, 0}, {same, -3.0, 0}, {same, nan, 0}},
			[]int{1, 1, 1}, []int64{3, 3, 3}},
		{"no scores at all: the first", "quality",
			[]keepRow{{other, nil, 0}, {same, nan, 0}, {same, nil, 0}, {same, nan, 0}},
			[]int{0, 1, 1, 1}, []int64{1, 3, 3, 3}},
		{"first ignores scores", "first",
			[]keepRow{{same, 0.1, 0}, {same, 0.9, 0}},
			[]int{0, 0}, []int64{2, 2}},
		{"prior sizes are summed", "quality",
			[]keepRow{{same, 0.1, 4}, {other, nil, 3}, {same, 0.5, 0}, {same, nil, 2}},
			[]int{2, 1, 2, 2}, []int64{7, 3, 7, 7}},
	}
	for _, c := range cases {
		for _, batchRows := range []int{1, 3, 100} {
			t.Run(fmt.Sprintf("%s/batch %d", c.name, batchRows), func(t *testing.T) {
				opts := *ExactInfo.Defaults().(*ExactOptions)
				opts.Keep = c.keep
				keeper, size, _ := keepRunExact(t, opts, c.rows, batchRows)
				if fmt.Sprint(keeper) != fmt.Sprint(c.keeper) || fmt.Sprint(size) != fmt.Sprint(c.size) {
					t.Errorf("keepers %v sizes %v, want %v %v", keeper, size, c.keeper, c.size)
				}
			})
		}
	}
}
