package pipeline

import (
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Columns of the architecture's vocabulary that stats.json breaks down by.
const (
	colLang           = "lang"
	colWordCount      = "word_count"
	colDupClusterSize = "dup_cluster_size"
)

// LangStats are one language's documents (by the lang column).
type LangStats struct {
	Kept     Count `json:"kept"`
	Rejected Count `json:"rejected"`
	// Words of kept documents (the word_count column), when segmented.
	KeptWords int64 `json:"kept_words,omitempty"`
}

// Histogram counts a float column's values in fixed bins, the same for
// every signal and every run so two runs compare bin by bin: twenty bins of
// 0.05 over [0, 1), then coarse bins for counts and lengths. Bin 0 holds
// values below Edges[0], bin i holds Edges[i-1] ≤ v < Edges[i], and the
// last bin values at or above the last edge.
type Histogram struct {
	Edges    []float64 `json:"edges"`
	Kept     []int64   `json:"kept"`
	Rejected []int64   `json:"rejected"`
}

var histogramEdges = func() []float64 {
	var e []float64
	for i := 0; i <= 20; i++ {
		e = append(e, float64(i)/20)
	}
	return append(e, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 1e5, 1e6)
}()

// binOf is the number of edges at or below v: its bin.
func binOf(v float64) int {
	return sort.Search(len(histogramEdges), func(k int) bool { return histogramEdges[k] > v })
}

// columnStats accumulates the breakdowns of the final pass's batches.
type columnStats struct {
	byLang     map[string]*LangStats
	dupSizes   map[string]int64
	histograms map[string]*Histogram
}

func (c *columnStats) add(b *Batch) {
	texts := b.Texts()
	langs, _ := b.Column(colLang).(*array.String)
	words, _ := b.Column(colWordCount).(*array.Int64)
	sizes, _ := b.Column(colDupClusterSize).(*array.Int64)
	for i := 0; i < b.Len(); i++ {
		alive, n := b.Alive(i), int64(texts.ValueLen(i))
		if langs != nil && langs.IsValid(i) {
			ls := c.lang(langs.Value(i))
			if alive {
				ls.Kept.add(1, n)
				if words != nil && words.IsValid(i) {
					ls.KeptWords += words.Value(i)
				}
			} else {
				ls.Rejected.add(1, n)
			}
		}
		if alive && sizes != nil && sizes.IsValid(i) {
			if c.dupSizes == nil {
				c.dupSizes = map[string]int64{}
			}
			c.dupSizes[sizeBucket(sizes.Value(i))]++
		}
	}
	for j, f := range b.Fields() {
		c.histogram(f, b.cols[j], b)
	}
}

func (c *columnStats) lang(l string) *LangStats {
	if c.byLang == nil {
		c.byLang = map[string]*LangStats{}
	}
	if c.byLang[l] == nil {
		c.byLang[l] = &LangStats{}
	}
	return c.byLang[l]
}

// histogram bins a float signal column (the stages' signals, scores).
func (c *columnStats) histogram(f arrow.Field, col arrow.Array, b *Batch) {
	vals, ok := col.(*array.Float64)
	if !ok {
		return
	}
	if c.histograms == nil {
		c.histograms = map[string]*Histogram{}
	}
	h := c.histograms[f.Name]
	if h == nil {
		n := len(histogramEdges) + 1
		h = &Histogram{Edges: histogramEdges, Kept: make([]int64, n), Rejected: make([]int64, n)}
		c.histograms[f.Name] = h
	}
	for i := 0; i < vals.Len(); i++ {
		if !vals.IsValid(i) || math.IsNaN(vals.Value(i)) {
			continue
		}
		if bin := binOf(vals.Value(i)); b.Alive(i) {
			h.Kept[bin]++
		} else {
			h.Rejected[bin]++
		}
	}
}

func sizeBucket(n int64) string {
	switch {
	case n <= 1:
		return "1"
	case n == 2:
		return "2"
	case n <= 5:
		return "3-5"
	case n <= 10:
		return "6-10"
	case n <= 100:
		return "11-100"
	}
	return ">100"
}

// fill copies the breakdowns into st.
func (c *columnStats) fill(st *Stats) {
	if len(c.byLang) > 0 {
		st.ByLang = map[string]LangStats{}
		for l, s := range c.byLang {
			st.ByLang[l] = *s
		}
	}
	st.DupClusterSizes = c.dupSizes
	if len(c.histograms) > 0 {
		st.Histograms = map[string]Histogram{}
		for name, h := range c.histograms {
			st.Histograms[name] = *h
		}
	}
}

// NumberAt reads row of a numeric column (float or integer) as a float64;
// false for an absent column, a null, NaN or a non-numeric column.
func NumberAt(col arrow.Array, row int) (float64, bool) {
	if col == nil || col.IsNull(row) {
		return 0, false
	}
	var v float64
	switch a := col.(type) {
	case *array.Float64:
		v = a.Value(row)
	case *array.Float32:
		v = float64(a.Value(row))
	case *array.Int64:
		v = float64(a.Value(row))
	case *array.Int32:
		v = float64(a.Value(row))
	default:
		return 0, false
	}
	return v, !math.IsNaN(v)
}
