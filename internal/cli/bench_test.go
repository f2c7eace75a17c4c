package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
			b.SetBytes(bytes)
			b.ResetTimer()
			cpu0 := testenv.ProcessCPU()
			for i := 0; i < b.N; i++ {
				cfg.Output.Dir = filepath.Join(b.TempDir(), "out")
				res, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: NewRegistry()})
				if err != nil {
					b.Fatal(err)
				}
				if res.Manifest.Totals.Kept == 0 {
					b.Fatal("nothing kept")
				}
				b.ReportMetric(float64(res.Stats.PeakRSSBytes)/(1<<20), "peak-RSS-MiB")
			}
			// Reader, worker and writer overlap on two cores: input MB per
			// CPU second is the honest per-core figure.
			testenv.ReportMBPerCPU(b, bytes, testenv.ProcessCPU()-cpu0)
		})
	}
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
