package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// BenchmarkReadWrite measures reading + writing alone (no stages) on one
// worker: the MB/s it prints is per core. Corpus: ../shared/corpora/zh-laws
// (551 Markdown files, 11.4 MB) when present, else fixtures/corpus.
func BenchmarkReadWrite(b *testing.B) {
	tuneGC(0) // as `winnow run` does
	for _, bc := range []struct{ name, record string }{{"zh-laws", "plain"}, {"zh-sft-jsonl", "sharegpt"}} {
		b.Run(bc.name, func(b *testing.B) {
			in, bytes := benchCorpus(b, bc.name)
			cfg := pipeline.Defaults()
			cfg.Input.Paths = []string{in}
			cfg.Input.Exclude = []string{"*.tsv", "SOURCES.md", "README.md"}
			cfg.Input.Record = bc.record
			cfg.Workers = 1
			if lv := os.Getenv("WINNOW_BENCH_ZSTD_LEVEL"); lv != "" {
				fmt.Sscan(lv, &cfg.Output.ZstdLevel)
			}
			benchRuns(b, cfg, bytes)
		})
	}
}

// benchRuns runs cfg b.N times and reports peak RSS and input MB per
// CPU second: reader, workers and writer overlap on two cores, so that is
// the honest per-core figure.
func benchRuns(b *testing.B, cfg pipeline.Config, bytes int64) *pipeline.Result {
	b.SetBytes(bytes)
	b.ResetTimer()
	cpu0 := testenv.ProcessCPU()
	var res *pipeline.Result
	for i := 0; i < b.N; i++ {
		cfg.Output.Dir = filepath.Join(b.TempDir(), "out")
		var err error
		if res, err = pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: NewRegistry()}); err != nil {
			b.Fatal(err)
		}
		if res.Manifest.Totals.Kept == 0 {
			b.Fatal("nothing kept")
		}
		b.ReportMetric(float64(res.Stats.PeakRSSBytes)/(1<<20), "peak-RSS-MiB")
	}
	testenv.ReportMBPerCPU(b, bytes, testenv.ProcessCPU()-cpu0)
	return res
}

func benchCorpus(b *testing.B, name string) (string, int64) {
	b.Helper()
	var dir string
	switch name {
	case "zh-laws":
		dir = filepath.Join(testenv.SharedCorpora(b), "zh-laws")
	case "zh-sft-jsonl":
		dir = filepath.Join(testenv.SharedCorpora(b), "zh-sft", "sharegpt")
	}
	return benchDir(dir)
}

// benchDir returns dir and the bytes of its corpus files.
func benchDir(dir string) (string, int64) {
	var total int64
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) != ".tsv" && d.Name() != "SOURCES.md" {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return dir, total
}

// BenchmarkDedup is the whole dedup end to end on zh-laws + zh-prose
// (849 documents, 14.5 MB): reading, staging, signatures, the band merge,
// clustering and the final pass, with every core. ns/op is the run's wall
// time; peak RSS is the process's (so the largest of the iterations).
func BenchmarkDedup(b *testing.B) {
	tuneGC(2 << 30) // as `winnow run` does with the default max_memory
	corpora := testenv.SharedCorpora(b)
	for _, bc := range []struct{ name, stages string }{
		{"minhash", "  - minhash_dedup: {}\n"},
		{"normalize+exact+minhash", "  - normalize: {}\n  - exact_dedup: {}\n  - minhash_dedup: {}\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			yml := filepath.Join(b.TempDir(), "p.yaml")
			os.WriteFile(yml, []byte("input:\n  exclude: ['*.tsv', SOURCES.md, README.md]\nstages:\n"+bc.stages), 0o644)
			cfg, err := pipeline.LoadConfig(yml)
			if err != nil {
				b.Fatal(err)
			}
			var bytes int64
			cfg.Input.Paths = nil
			for _, sub := range []string{"zh-laws", "zh-prose"} {
				dir, n := benchDir(filepath.Join(corpora, sub))
				cfg.Input.Paths = append(cfg.Input.Paths, dir)
				bytes += n
			}
			res := benchRuns(b, cfg, bytes)
			b.ReportMetric(float64(res.Stats.Rejected.Docs), "removed")
		})
	}
}

// BenchmarkFilters runs filters together on one core over zh-laws, already
// normalized, identified and segmented outside the timing (the target
// excludes segmentation): the zh-web recipe's filter stages, and every
// filter stage (adding c4, which zh-web leaves out as FineWeb-2 does).
func BenchmarkFilters(b *testing.B) {
	dir, _ := benchDir(filepath.Join(testenv.SharedCorpora(b), "zh-laws"))
	var docs []pipeline.Doc
	var sources []string
	var bytes int64
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".md" && d.Name() != "SOURCES.md" {
			data, _ := os.ReadFile(p)
			docs = append(docs, pipeline.Doc{Text: string(data)})
			sources = append(sources, p)
			bytes += int64(len(data))
		}
		return nil
	})
	reg := NewRegistry()
	build := func(names ...string) []pipeline.Stage {
		var specs []pipeline.StageSpec
		for _, n := range names {
			specs = append(specs, pipeline.StageSpec{Name: n, Path: n})
		}
		st, _, err := reg.Build(specs)
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	prep := build("normalize", "langid", "segment")
	batch := pipeline.NewBatch(memory.DefaultAllocator, 0, docs, sources, false)
	defer batch.Release()
	ctx := context.Background()
	for _, st := range prep {
		if err := st.Process(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	zhWeb := []string{"length", "text_stats", "zh_quality", "gopher_repetition", "gopher_quality", "fineweb", "flagged_words", "pii", "quality_score"}
	for _, bc := range []struct {
		name   string
		stages []string
	}{{"zh-web", zhWeb}, {"all", append(zhWeb, "c4")}} {
		b.Run(bc.name, func(b *testing.B) {
			filters := build(bc.stages...)
			b.SetBytes(bytes)
			b.ResetTimer()
			cpu0 := testenv.ProcessCPU()
			for i := 0; i < b.N; i++ {
				for _, st := range filters {
					if err := st.Process(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
				batch.ClearScratch() // as the engine does after each chain
			}
			testenv.ReportMBPerCPU(b, bytes, testenv.ProcessCPU()-cpu0)
		})
	}
}
