package pipeline

import (
	"math"
	"testing"
)

func TestHistogramBins(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want int
	}{
		{-0.5, 0}, {0, 1}, {0.04, 1}, {0.05, 2}, {0.999, 20}, {1, 21}, {1.5, 21}, {2, 22},
		{999, 29}, {1e6, len(histogramEdges)}, {math.Inf(1), len(histogramEdges)},
	} {
		if got := binOf(c.v); got != c.want {
			t.Errorf("binOf(%v) = %d, want %d", c.v, got, c.want)
		}
	}
	for _, c := range []struct {
		n    int64
		want string
	}{{1, "1"}, {2, "2"}, {3, "3-5"}, {5, "3-5"}, {6, "6-10"}, {100, "11-100"}, {101, ">100"}} {
		if got := sizeBucket(c.n); got != c.want {
			t.Errorf("sizeBucket(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
