package stages

import (
	"bufio"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// Benchmarks of the langid stage in MB/s of document text, one batch per
// iteration through Process (Arrow columns included). Run per core:
//
//	go test -run '^$' -bench LangID -cpu 1 ./stages/
//
// Chinese text is decided by the script pre-classifier alone; English text
// pays for lingua on a sample of sample_chars characters per document.

// langidBenchFiles returns the files under dir ending in ext, one document each.
func langidBenchFiles(b *testing.B, dir, ext string) []string {
	b.Helper()
	var docs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ext) || strings.Contains(path, "alt-edition") {
			return err
		}
		data, err := os.ReadFile(path)
		docs = append(docs, string(data))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return docs
}

// langidBenchJSONL returns the text field of each line of a JSONL file whose
// id starts with prefix ("" for all).
func langidBenchJSONL(b *testing.B, path, prefix string) []string {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var docs []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var rec struct{ ID, Text string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			b.Fatal(err)
		}
		if strings.HasPrefix(rec.ID, prefix) {
			docs = append(docs, rec.Text)
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return docs
}

// langidParagraphDocs splits documents into their non-blank lines.
func langidParagraphDocs(docs []string) []string {
	var out []string
	for _, d := range docs {
		for line := range strings.Lines(d) {
			if strings.TrimSpace(line) != "" {
				out = append(out, line)
			}
		}
	}
	return out
}

func benchLangID(b *testing.B, texts []string, edit func(*LangIDOptions)) {
	b.Helper()
	if len(texts) == 0 {
		b.Fatal("no documents")
	}
	l := newTestLangID(b, edit)
	docs := make([]pipeline.Doc, len(texts))
	sources := make([]string, len(texts))
	size := 0
	for i, t := range texts {
		docs[i] = pipeline.Doc{Text: t, Offset: int64(i)}
		sources[i] = "bench"
		size += len(t)
	}
	batch := pipeline.NewBatch(memory.NewGoAllocator(), 0, docs, sources, false)
	defer batch.Release()
	ctx := context.Background()
	// Load the models outside the timing: a run pays that once.
	if err := l.Process(ctx, batch); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := l.Process(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(texts)*b.N)/b.Elapsed().Seconds(), "docs/s")
}

// Lu Xun's works, one file a document (2.5 MB, ~8 KB a document).
func BenchmarkLangIDZhProse(b *testing.B) {
	benchLangID(b, langidBenchFiles(b, filepath.Join(testenv.SharedCorpora(b), "zh-prose"), ".txt"), nil)
}

// PRC laws split into paragraphs (one per line, ~120 bytes each): the
// per-document overhead at its worst for Chinese.
func BenchmarkLangIDZhLawsParagraphs(b *testing.B) {
	benchLangID(b, langidParagraphDocs(langidBenchFiles(b, filepath.Join(testenv.SharedCorpora(b), "zh-laws"), ".md")), nil)
}

// Whole law files (11.4 MB, ~20 KB a document).
func BenchmarkLangIDZhLaws(b *testing.B) {
	benchLangID(b, langidBenchFiles(b, filepath.Join(testenv.SharedCorpora(b), "zh-laws"), ".md"), nil)
}

// English web pages with their boilerplate (111 pages, ~10 KB each): lingua
// on a 400-character sample of each.
func BenchmarkLangIDEnglishPages(b *testing.B) {
	benchLangID(b, langidBenchJSONL(b, filepath.Join(testenv.SharedCorpora(b), "web", "text-junk.jsonl"), "en-"), nil)
}

// lingua's English test sentences, one a document (~110 bytes): lingua on
// every document, the slowest case there is.
func BenchmarkLangIDEnglishSentences(b *testing.B) {
	corpora := testenv.SharedCorpora(b)
	benchLangID(b, langidLines(b, filepath.Join(corpora, "langid", "lingua", "en-sentences.txt")), nil)
}

// The same sentences with lingua's models all loaded up front (preload).
func BenchmarkLangIDEnglishSentencesPreload(b *testing.B) {
	corpora := testenv.SharedCorpora(b)
	texts := langidLines(b, filepath.Join(corpora, "langid", "lingua", "en-sentences.txt"))
	benchLangID(b, texts, func(o *LangIDOptions) { o.Preload = true })
}

// All 234 web pages, Chinese (123) and English (111), with boilerplate: a
// realistic mixed corpus.
func BenchmarkLangIDMixedPages(b *testing.B) {
	benchLangID(b, langidBenchJSONL(b, filepath.Join(testenv.SharedCorpora(b), "web", "text-junk.jsonl"), ""), nil)
}

// Documents that are half Chinese and half English by content: a UDHR
// article in zh-hans followed by the same article in English. Chinese
// letters outweigh (cjk_weight 3) or tie, so most are decided by script.
func BenchmarkLangIDMixedHalfHalf(b *testing.B) {
	corpora := testenv.SharedCorpora(b)
	zh := langidLines(b, filepath.Join(corpora, "langid", "udhr", "zh-hans.txt"))
	en := langidLines(b, filepath.Join(corpora, "langid", "udhr", "en.txt"))
	var texts []string
	for i := range min(len(zh), len(en)) {
		texts = append(texts, zh[i]+"\n"+en[i])
	}
	benchLangID(b, texts, nil)
}

// The script pre-classifier alone (one pass counting letters), on Lu Xun.
func BenchmarkLangIDScanZh(b *testing.B) {
	texts := langidBenchFiles(b, filepath.Join(testenv.SharedCorpora(b), "zh-prose"), ".txt")
	size := 0
	for _, t := range texts {
		size += len(t)
	}
	b.SetBytes(int64(size))
	for b.Loop() {
		for _, t := range texts {
			scanLetters(t)
		}
	}
}
