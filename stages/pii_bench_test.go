package stages

import (
	"testing"
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
	benchStage(b, st, texts, "zh-laws")
}
