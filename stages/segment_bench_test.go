package stages

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// Throughput of the segment stage, per core: run with -cpu 1, e.g.
//
//	go test ./stages -run '^$' -bench Segment -cpu 1 -benchtime 5x
//
// MB/cpu-s is the number to read on a busy machine. The first Process loads
// jieba (about a second) and is not timed.

// BenchmarkSegmentZhProse: the 298 primary Lu Xun works, one document each
// (2.9 MB of Chinese prose).
func BenchmarkSegmentZhProse(b *testing.B) {
	benchSegment(b, segZhProse(b), nil)
}

// BenchmarkSegmentZhProseNoHMM: the same with hmm: false, which skips
// jieba's Viterbi pass over runs of single characters.
func BenchmarkSegmentZhProseNoHMM(b *testing.B) {
	benchSegment(b, segZhProse(b), func(o *SegmentOptions) { o.HMM = false })
}

// BenchmarkSegmentGojiebaCut is the dependency's own limit on the same
// text: gojieba.Cut of each whole work, HMM on, nothing else.
func BenchmarkSegmentGojiebaCut(b *testing.B) {
	texts := segZhProse(b)
	jb, err := sharedJieba("")
	if err != nil {
		b.Fatal(err)
	}
	benchTexts(b, texts, func(t string) { jb.Cut(t, true) })
}

func segZhProse(b *testing.B) []string {
	files, err := filepath.Glob(filepath.Join(testenv.SharedCorpora(b), "zh-prose", "*", "*.txt"))
	if err != nil || len(files) == 0 {
		b.Skipf("no zh-prose files: %v", err)
	}
	var texts []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		texts = append(texts, string(data))
	}
	return texts
}

// BenchmarkSegmentWebMixed: 234 real web pages as visible text, 123 Chinese
// and 111 English, with menus mixing both (web/text-junk.jsonl, 2.9 MB).
func BenchmarkSegmentWebMixed(b *testing.B) {
	benchSegment(b, segJSONLTexts(b, filepath.Join(testenv.SharedCorpora(b), "web", "text-junk.jsonl"), nil), nil)
}

// BenchmarkSegmentEnglish: the English pages of the same file (uniseg only).
func BenchmarkSegmentEnglish(b *testing.B) {
	benchSegment(b, segJSONLTexts(b, filepath.Join(testenv.SharedCorpora(b), "web", "text-junk.jsonl"),
		func(id string) bool { return strings.HasPrefix(id, "en-") }), nil)
}

// segJSONLTexts reads the text field of a JSON Lines file's records whose
// id keep accepts (all when keep is nil).
func segJSONLTexts(b *testing.B, path string, keep func(id string) bool) []string {
	f, err := os.Open(path)
	if err != nil {
		b.Skipf("corpus: %v", err)
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var rec struct{ ID, Text string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			b.Fatal(err)
		}
		if keep == nil || keep(rec.ID) {
			texts = append(texts, rec.Text)
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return texts
}

// benchSegment times Process on one batch holding texts, with the default
// options changed by edit.
func benchSegment(b *testing.B, texts []string, edit func(*SegmentOptions)) {
	docs := make([]pipeline.Doc, len(texts))
	sources := make([]string, len(texts))
	size := 0
	for i, t := range texts {
		docs[i], sources[i] = pipeline.Doc{Text: t, Offset: int64(i)}, "bench"
		size += len(t)
	}
	batch := pipeline.NewBatch(memory.DefaultAllocator, 0, docs, sources, false)
	defer batch.Release()
	st := newTestSegment(b, edit)
	if err := st.Process(context.Background(), batch); err != nil { // loads jieba
		b.Fatal(err)
	}
	words := 0
	for _, w := range batch.Tokens {
		words += len(w)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	cpu0 := testenv.ProcessCPU()
	for b.Loop() {
		if err := st.Process(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	testenv.ReportMBPerCPU(b, int64(size), testenv.ProcessCPU()-cpu0)
	b.ReportMetric(float64(words), "words/op")
}
