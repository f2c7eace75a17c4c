package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
)

// benchDocs builds batches of real Chinese text (zh-prose from the shared
// corpora, else the fixtures) so compression sees realistic input.
func benchDocs(b *testing.B) ([]Doc, []string, int64) {
	b.Helper()
	root := filepath.Join(testenv.RepoRoot(b), "fixtures", "corpus", "zh-prose")
	paths, _ := filepath.Glob(filepath.Join(root, "*.txt"))
	var docs []Doc
	var sources []string
	var n int64
	for n < 16<<20 {
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			// One doc per paragraph, as a JSONL corpus would hold them.
			for _, para := range strings.Split(string(data), "\n") {
				if para == "" {
					continue
				}
				docs = append(docs, Doc{Text: para, Offset: int64(len(docs))})
				sources = append(sources, filepath.Base(p))
				n += int64(len(para))
			}
		}
	}
	return docs, sources, n
}

// BenchmarkShardWriter measures Arrow batch building plus Parquet writing
// alone, per compression setting: the writer's share of read+write.
func BenchmarkShardWriter(b *testing.B) {
	docs, sources, n := benchDocs(b)
	for _, level := range []struct {
		codec string
		level int
	}{{"zstd", 1}, {"zstd", 3}, {"snappy", 1}, {"none", 1}} {
		b.Run(fmt.Sprintf("%s-%d", level.codec, level.level), func(b *testing.B) {
			cfg := Defaults().Output
			cfg.Compression, cfg.ZstdLevel = level.codec, level.level
			b.SetBytes(n)
			for i := 0; i < b.N; i++ {
				w := NewShardWriter(b.TempDir(), "shards", cfg, nil)
				for start := 0; start < len(docs); start += 2000 {
					end := min(start+2000, len(docs))
					batch := NewBatch(memory.DefaultAllocator, int64(start), docs[start:end], sources[start:end], false)
					rec := batch.Record()
					if err := w.Write(rec); err != nil {
						b.Fatal(err)
					}
					rec.Release()
					batch.Release()
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					b.ReportMetric(float64(w.Outputs[0].Bytes)/float64(n), "out/in")
				}
			}
		})
	}
}
