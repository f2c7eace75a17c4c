package stages

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// Benchmarks read realistic Chinese records: the paragraphs of zh-laws,
// zh-prose and zh-trad in the shared corpora (fixtures/corpus when those
// are absent), repeated to about 16 MB, as {"id", "text", "meta"} records.
//
//	go test -run '^$' -bench . -benchtime 20x ./stages/

const benchBytes = 16 << 20

// loadBenchTexts collects paragraphs of 200+ bytes.
func loadBenchTexts(b *testing.B) []string {
	b.Helper()
	var roots []string
	base := os.Getenv("WINNOW_SHARED")
	if base == "" {
		base = filepath.Join(testenv.RepoRoot(b), "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(base, "corpora")); err == nil {
		for _, d := range []string{"zh-laws", "zh-prose", "zh-trad"} {
			roots = append(roots, filepath.Join(base, "corpora", d))
		}
	} else {
		roots = append(roots, filepath.Join(testenv.Fixtures(b), "corpus"))
	}
	var texts []string
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			switch filepath.Ext(p) {
			case ".md", ".txt":
				for _, para := range strings.Split(string(data), "\n\n") {
					if len(para) >= 200 {
						texts = append(texts, para)
					}
				}
			case ".jsonl":
				sc := bufio.NewScanner(bytes.NewReader(data))
				sc.Buffer(nil, 1<<20)
				for sc.Scan() {
					var r struct{ Text string }
					if json.Unmarshal(sc.Bytes(), &r) == nil && len(r.Text) >= 200 {
						texts = append(texts, r.Text)
					}
				}
			}
			return nil
		})
	}
	if len(texts) == 0 {
		b.Skip("no benchmark text found")
	}
	return texts
}

type benchRecord struct {
	ID   string            `json:"id"`
	Text string            `json:"text"`
	Meta map[string]string `json:"meta"`
}

// benchJSONL builds about benchBytes of JSON Lines, and the records.
func benchJSONL(b *testing.B) []byte {
	texts := loadBenchTexts(b)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := 0; buf.Len() < benchBytes; i++ {
		r := benchRecord{ID: "doc-" + strconv.Itoa(i), Text: texts[i%len(texts)], Meta: map[string]string{"source": "bench", "lang": "zh"}}
		if err := enc.Encode(r); err != nil {
			b.Fatal(err)
		}
	}
	return buf.Bytes()
}

// discard is an Emitter that only counts.
type discard struct{ docs, bad int }

func (d *discard) Doc(pipeline.Doc) error { d.docs++; return nil }
func (d *discard) Bad(pipeline.BadRecord) { d.bad++ }

// benchRead reads data as the file name; MB/s counts the decompressed
// bytes (size), or len(data) when size is 0.
func benchRead(b *testing.B, cfg pipeline.InputConfig, name string, data []byte, size int) {
	fr, err := NewFileReader(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if size == 0 {
		size = len(data)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	var em discard
	for b.Loop() {
		em = discard{}
		if err := fr.ReadFile(context.Background(), pipeline.InputFile{Path: name, Rel: name}, bytes.NewReader(data), &em); err != nil {
			b.Fatal(err)
		}
	}
	if em.bad != 0 || em.docs == 0 {
		b.Fatalf("%d docs, %d bad", em.docs, em.bad)
	}
	b.ReportMetric(float64(em.docs), "docs/op")
}

func BenchmarkReadJSONL(b *testing.B) {
	benchRead(b, pipeline.Defaults().Input, "bench.jsonl", benchJSONL(b), 0)
}

func BenchmarkReadJSONArray(b *testing.B) {
	lines := bytes.Split(bytes.TrimSpace(benchJSONL(b)), []byte("\n"))
	data := append(append([]byte("[\n"), bytes.Join(lines, []byte(",\n"))...), "\n]\n"...)
	benchRead(b, pipeline.Defaults().Input, "bench.json", data, 0)
}

func BenchmarkReadJSONLGzip(b *testing.B) {
	data := benchJSONL(b)
	benchRead(b, pipeline.Defaults().Input, "bench.jsonl.gz", gzipBytes(b, data), len(data))
}

func BenchmarkReadJSONLZstd(b *testing.B) {
	data := benchJSONL(b)
	benchRead(b, pipeline.Defaults().Input, "bench.jsonl.zst", zstdBytes(b, data), len(data))
}

func BenchmarkReadCSV(b *testing.B) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"id", "text"})
	texts := loadBenchTexts(b)
	for i := 0; buf.Len() < benchBytes; i++ {
		w.Write([]string{strconv.Itoa(i), texts[i%len(texts)]})
		w.Flush()
	}
	benchRead(b, pipeline.Defaults().Input, "bench.csv", buf.Bytes(), 0)
}

func BenchmarkReadTextLines(b *testing.B) {
	texts := loadBenchTexts(b)
	var buf bytes.Buffer
	for i := 0; buf.Len() < benchBytes; i++ {
		buf.WriteString(strings.ReplaceAll(texts[i%len(texts)], "\n", " "))
		buf.WriteByte('\n')
	}
	cfg := pipeline.Defaults().Input
	cfg.TextSplit = "line"
	benchRead(b, cfg, "bench.txt", buf.Bytes(), 0)
}

// BenchmarkStdlibJSONL is the baseline the scanner is measured against:
// bufio.Scanner plus encoding/json into map[string]json.RawMessage and the
// text field into a string.
func BenchmarkStdlibJSONL(b *testing.B) {
	data := benchJSONL(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				b.Fatal(err)
			}
			var text string
			if err := json.Unmarshal(m["text"], &text); err != nil {
				b.Fatal(err)
			}
		}
	}
}
