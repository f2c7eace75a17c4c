package filters

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// BenchmarkChain runs the filter stages of the zh-web recipe plus c4 (what
// internal/cli's BenchmarkFilters times, less pii, which is not a filter)
// over the 551 zh-laws files with the segment stage's words made before
// the timer, the stages sharing the batch's scratch as in a run. Besides
// MB/s it reports each stage's CPU time (ms/op, the thread's own: other
// processes on the machine do not count), to show where the time goes.
func BenchmarkChain(b *testing.B) {
	docs := zhCorpus(b, "zh-laws")
	texts := make([]string, len(docs))
	var bytes int64
	pd := make([]pipeline.Doc, len(docs))
	lb := array.NewStringBuilder(memory.DefaultAllocator)
	for i, d := range docs {
		texts[i] = d.text
		pd[i] = pipeline.Doc{Text: d.text}
		lb.Append("zh")
		bytes += int64(len(d.text))
	}
	batch := pipeline.NewBatch(memory.DefaultAllocator, 0, pd, make([]string, len(pd)), false)
	defer batch.Release()
	if err := batch.SetColumn(arrow.Field{Name: "lang", Type: arrow.BinaryTypes.String, Nullable: true}, lb.NewArray()); err != nil {
		b.Fatal(err)
	}
	batch.Tokens = tuSegment(b, texts)
	infos := []pipeline.StageInfo{LengthInfo, TextStats.NewStageInfo(), ZhQuality.NewStageInfo(),
		GopherRepetition.NewStageInfo(), GopherQuality.NewStageInfo(), FineWeb.NewStageInfo(), FlaggedInfo,
		QualityScoreInfo, C4.NewStageInfo()}
	stages := make([]pipeline.Stage, len(infos))
	for i, info := range infos {
		st, err := info.New(info.Defaults(), info.Name)
		if err != nil {
			b.Fatal(err)
		}
		stages[i] = st
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	spent := make([]time.Duration, len(stages))
	ctx := context.Background()
	b.SetBytes(bytes)
	b.ResetTimer()
	cpu0 := testenv.ProcessCPU()
	for b.Loop() {
		for i, st := range stages {
			t0 := threadCPU()
			if err := st.Process(ctx, batch); err != nil {
				b.Fatal(err)
			}
			spent[i] += threadCPU() - t0
		}
		batch.ClearScratch()
	}
	testenv.ReportMBPerCPU(b, bytes, testenv.ProcessCPU()-cpu0)
	for i, st := range stages {
		b.ReportMetric(float64(spent[i].Milliseconds())/float64(b.N), st.Name()+"-ms/op")
	}
}

// threadCPU is the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
