package stages

import (
	"testing"

	"winnow/internal/testenv"
)

// benchTexts runs apply over every document per iteration and reports MB/s
// and MB/cpu-s of input.
func benchTexts(b *testing.B, docs []string, apply func(string)) {
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	cpu0 := testenv.ProcessCPU()
	for b.Loop() {
		for _, d := range docs {
			apply(d)
		}
	}
	testenv.ReportMBPerCPU(b, int64(total), testenv.ProcessCPU()-cpu0)
}
