package stages

import (
	"path/filepath"
	"strings"
	"testing"

	"winnow/internal/testenv"
)

// Benchmarks of the normalize stage in MB/s (b.SetBytes: input bytes per
// iteration) and MB/cpu-s (input bytes per second of process CPU time,
// which other load on the machine does not distort); run with -cpu 1 for
// per-core numbers:
//
//	WINNOW_SHARED=... go test ./stages/ -run '^$' -bench Normalize -cpu 1
//
// Each path is measured on its own material:
//   - ZhProse: zh-prose as it is (full-width digits and letters, U+3000
//     indentation, hard-wrapped lines: nearly every document changes);
//   - FastPath: the same text already normalized (nothing to do, no
//     allocation);
//   - ZhLaws: PRC laws (mostly clean Simplified Markdown);
//   - Mixed: web pages (Chinese and English), lingua's sentences in 21
//     languages and UDHR in 24, as documents;
//   - T2S: DRCD, Traditional Chinese (every paragraph converted).

func benchDocs(b testing.TB, name string) []string {
	corpora := testenv.SharedCorpora(b)
	switch name {
	case "zh-prose":
		_, texts := normCorpusFiles(b, filepath.Join(corpora, "zh-prose"), ".txt")
		return texts
	case "zh-laws":
		_, texts := normCorpusFiles(b, filepath.Join(corpora, "zh-laws"), ".md")
		return texts
	case "drcd":
		return normDRCD(b, corpora)
	case "mixed":
		type page struct {
			Text string `json:"text"`
		}
		var docs []string
		for _, p := range normReadJSONL[page](b, filepath.Join(corpora, "web/text-junk.jsonl")) {
			docs = append(docs, p.Text)
		}
		files, _ := filepath.Glob(filepath.Join(corpora, "langid/lingua/*-sentences.txt"))
		udhr, _ := filepath.Glob(filepath.Join(corpora, "langid/udhr/*.txt"))
		for _, f := range append(files, udhr...) {
			// Paragraph-sized documents of 20 lines.
			lines := normReadLines(b, f)
			for i := 0; i < len(lines); i += 20 {
				docs = append(docs, strings.Join(lines[i:min(i+20, len(lines))], "\n"))
			}
		}
		return docs
	}
	b.Fatalf("no bench corpus %q", name)
	return nil
}

func benchNormalize(b *testing.B, docs []string, n *normalizer) {
	benchTexts(b, docs, func(d string) { n.apply(d) })
}

func BenchmarkNormalizeZhProse(b *testing.B) {
	benchNormalize(b, benchDocs(b, "zh-prose"), newTestNormalizer(b, nil))
}

func BenchmarkNormalizeFastPath(b *testing.B) {
	n := newTestNormalizer(b, nil)
	var docs []string
	for _, name := range []string{"zh-prose", "zh-laws"} {
		for _, d := range benchDocs(b, name) {
			docs = append(docs, n.apply(d).text)
		}
	}
	for _, d := range docs {
		if r := n.apply(d); r.text != d || r.steps != 0 {
			b.Fatalf("normalized text changed again: steps %b", r.steps)
		}
	}
	benchNormalize(b, docs, n)
}

func BenchmarkNormalizeZhLaws(b *testing.B) {
	benchNormalize(b, benchDocs(b, "zh-laws"), newTestNormalizer(b, nil))
}

func BenchmarkNormalizeMixed(b *testing.B) {
	benchNormalize(b, benchDocs(b, "mixed"), newTestNormalizer(b, nil))
}

func BenchmarkNormalizeT2S(b *testing.B) {
	benchNormalize(b, benchDocs(b, "drcd"), newTestNormalizer(b, nil))
}

// BenchmarkNormalizeT2SOnly measures the converter alone on DRCD.
func BenchmarkNormalizeT2SOnly(b *testing.B) {
	conv, err := t2sFor("t2s")
	if err != nil {
		b.Fatal(err)
	}
	benchTexts(b, benchDocs(b, "drcd"), func(d string) { conv.convert(d) })
}

// BenchmarkNormalizeProcessZhProse measures the stage on Batches of 4 MiB,
// Arrow columns included.
func BenchmarkNormalizeProcessZhProse(b *testing.B) {
	texts := benchDocs(b, "zh-prose")
	st, err := NormalizeInfo.New(NormalizeInfo.Defaults(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	benchStage(b, st, texts, "zh-prose")
}
