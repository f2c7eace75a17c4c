package dedup

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"winnow/internal/testenv"
)

// Run: go test -run '^$' -bench Sign -cpu 1 ./dedup/
// MB/s is of UTF-8 input; MB/cpu-s divides by process CPU time, steadier on
// a shared machine.

// mhBenchZh is zh-laws cut into documents of 2–20 KB at line ends.
func mhBenchZh(b *testing.B) []string {
	root := filepath.Join(testenv.SharedCorpora(b), "zh-laws")
	var files []string
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") && filepath.Dir(path) != root {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	var all strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		all.Write(data)
	}
	return mhCutDocs(all.String(), 2<<10, 20<<10)
}

// mhBenchEn is the English licence texts of /usr/share/common-licenses.
func mhBenchEn(b *testing.B) []string {
	testenv.SharedCorpora(b)
	files, _ := filepath.Glob("/usr/share/common-licenses/*")
	var all strings.Builder
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			all.Write(data)
		}
	}
	if all.Len() == 0 {
		b.Skip("no /usr/share/common-licenses")
	}
	return mhCutDocs(all.String(), 2<<10, 20<<10)
}

// mhCutDocs cuts text at line ends into documents whose sizes cycle from lo
// to hi bytes, so the set spans short and long documents alike.
func mhCutDocs(text string, lo, hi int) []string {
	var docs []string
	size := lo
	for len(text) > 0 {
		n := min(size, len(text))
		if i := strings.IndexByte(text[n:], '\n'); i >= 0 {
			n += i + 1
		} else {
			n = len(text)
		}
		docs = append(docs, text[:n])
		text = text[n:]
		if size += 3 << 10; size > hi {
			size = lo
		}
	}
	return docs
}

func mhBenchSign(b *testing.B, docs []string, scheme string) {
	p := DefaultMinHashParams()
	p.Scheme = scheme
	m, err := NewMinHasher(p)
	if err != nil {
		b.Fatal(err)
	}
	sig := make([]uint32, m.K())
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	cpu0 := testenv.ProcessCPU()
	for b.Loop() {
		for _, d := range docs {
			m.Sign(d, nil, sig)
		}
	}
	testenv.ReportMBPerCPU(b, int64(total), testenv.ProcessCPU()-cpu0)
}

func BenchmarkSignZhOPH(b *testing.B)  { mhBenchSign(b, mhBenchZh(b), "oph") }
func BenchmarkSignZhPerm(b *testing.B) { mhBenchSign(b, mhBenchZh(b), "perm") }
func BenchmarkSignEnOPH(b *testing.B)  { mhBenchSign(b, mhBenchEn(b), "oph") }
func BenchmarkSignEnPerm(b *testing.B) { mhBenchSign(b, mhBenchEn(b), "perm") }
