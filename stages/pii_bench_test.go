package stages

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// Benchmarks of the pii stage in MB/s of input (b.SetBytes) and MB/cpu-s;
// run with -cpu 1 for per-core numbers:
//
//	go test ./stages/ -run '^$' -bench PII -cpu 1
//
//   - ZhLaws: PRC laws, Chinese with many dates and numbers, no PII;
//   - Mixed: web pages (Chinese and English, some e-mail and phones),
//     lingua's sentences and UDHR in many scripts;
//   - Dense: the test tables' sentences, nearly every one a match or a
//     near miss (the slow path: matching and building the output);
//   - ProcessZhLaws: the stage on one batch, Arrow columns included.

func BenchmarkPIIZhLaws(b *testing.B) {
	p := newTestPII(b, nil)
	benchTexts(b, benchDocs(b, "zh-laws"), func(d string) {
		var c [piiKinds]int32
		p.redact(d, &c)
	})
}

func BenchmarkPIIMixed(b *testing.B) {
	p := newTestPII(b, nil)
	benchTexts(b, benchDocs(b, "mixed"), func(d string) {
		var c [piiKinds]int32
		p.redact(d, &c)
	})
}

func BenchmarkPIIDense(b *testing.B) {
	p := newTestPII(b, nil)
	var docs []string
	for _, c := range piiAllCases(b) {
		docs = append(docs, c.text)
	}
	benchTexts(b, docs, func(d string) {
		var c [piiKinds]int32
		p.redact(d, &c)
	})
}

func BenchmarkPIIProcessZhLaws(b *testing.B) {
	texts := benchDocs(b, "zh-laws")
	st := newTestPII(b, nil)
	docs := make([]pipeline.Doc, len(texts))
	srcs := make([]string, len(texts))
	total := 0
	for i, t := range texts {
		docs[i] = pipeline.Doc{Text: t, Offset: int64(i)}
		srcs[i] = "zh-laws"
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
