package stages

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
	"winnow/pipeline"
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

// benchStage runs st on a fresh batch of texts per iteration, timing only
// Process, and reports MB/s and MB/cpu-s of input.
func benchStage(b *testing.B, st pipeline.Stage, texts []string, source string) {
	docs := make([]pipeline.Doc, len(texts))
	srcs := make([]string, len(texts))
	total := 0
	for i, t := range texts {
		docs[i] = pipeline.Doc{Text: t, Offset: int64(i)}
		srcs[i] = source
		total += len(t)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		batch := pipeline.NewBatch(memory.DefaultAllocator, 0, docs, srcs, false)
		b.StartTimer()
		cpu0 := testenv.ProcessCPU()
		if err := st.Process(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		cpu += testenv.ProcessCPU() - cpu0
		b.StopTimer()
		batch.Release()
		b.StartTimer()
	}
	testenv.ReportMBPerCPU(b, int64(total), cpu)
}
