package stages

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"winnow/pipeline"
)

// genReader produces prefix, then n filler bytes, then suffix, without
// ever holding the filler: a 200 MB record that costs no memory to make.
type genReader struct {
	parts  [][]byte
	filler int64
	block  []byte
}

func newGenReader(prefix string, n int64, suffix string) *genReader {
	return &genReader{
		parts:  [][]byte{[]byte(prefix), nil, []byte(suffix)},
		filler: n,
		block:  bytes.Repeat([]byte("长文本"), 64<<10/9),
	}
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.parts) > 0 {
		if g.parts[0] == nil { // the filler's slot
			if g.filler == 0 {
				g.parts = g.parts[1:]
				continue
			}
			n := copy(p, g.block[:min(int64(len(g.block)), g.filler)])
			g.filler -= int64(n)
			return n, nil
		}
		if len(g.parts[0]) == 0 {
			g.parts = g.parts[1:]
			continue
		}
		n := copy(p, g.parts[0])
		g.parts[0] = g.parts[0][n:]
		return n, nil
	}
	return 0, io.EOF
}

// TestHugeRecordsStream pushes a 200 MB record through each reader with
// the default max_doc_bytes (32 MiB): it must be quarantined with its full
// size while the reader allocates only a few MB, and the record after it
// must still be read.
func TestHugeRecordsStream(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200 MB per case")
	}
	const huge = 200 << 20
	filler := int64(huge) / 9 * 9 // whole 3-byte characters
	tests := []struct {
		name, file, prefix, suffix string
		split                      string
		wantSize                   int64
		after                      string
	}{
		{"jsonl", "big.jsonl", `{"text":"`, "\"}\n{\"text\":\"after\"}\n", "", filler + 11, "after"},
		{"json array", "big.json", `[{"text":"`, `"}, {"text":"after"}]`, "", filler + 11, "after"},
		{"text lines", "big.txt", "a\n", "\nafter\n", "line", filler, "after"},
		{"csv", "big.csv", "text\n\"", "\"\nafter\n", "", filler + 3, "after"},
		{"text file", "big.txt", "", "", "file", filler, ""},
	}
	for _, maxDoc := range []int64{4 << 20, pipeline.Defaults().Input.MaxDocBytes} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/max%dMiB", tt.name, maxDoc>>20), func(t *testing.T) {
				testHugeRecord(t, maxDoc, filler, tt.file, tt.prefix, tt.suffix, tt.split, tt.wantSize, tt.after)
			})
		}
	}
}

func testHugeRecord(t *testing.T, maxDoc, filler int64, file, prefix, suffix, split string, wantSize int64, after string) {
	cfg := testConfig(func(c *pipeline.InputConfig) {
		c.MaxDocBytes = maxDoc
		if split != "" {
			c.TextSplit = split
		}
	})
	rec := &recorder{}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	readInto(t, cfg, pipeline.InputFile{Path: file, Rel: file}, newGenReader(prefix, filler, suffix), rec)
	runtime.ReadMemStats(&m1)
	// A record is held up to max_doc_bytes before it is known to be too
	// large; with doubling growth that costs at most 2 x max_doc_bytes,
	// plus the 1 MiB read buffer and small change.
	alloc := m1.TotalAlloc - m0.TotalAlloc
	if limit := 2*uint64(maxDoc) + 4<<20; alloc > limit {
		t.Errorf("reading a %d MB record allocated %.1f MB (limit %.1f MB)", filler>>20, float64(alloc)/(1<<20), float64(limit)/(1<<20))
	}
	t.Logf("allocated %.2f MB", float64(alloc)/(1<<20))
	var tooLarge *pipeline.BadRecord
	for i := range rec.bads {
		if rec.bads[i].Kind == pipeline.BadTooLarge {
			tooLarge = &rec.bads[i]
		}
	}
	if tooLarge == nil || tooLarge.Size != wantSize || len(tooLarge.Raw) != pipeline.MaxQuarantineRaw {
		t.Fatalf("too_large record: %+v (kinds %v)", tooLarge, rec.kinds())
	}
	if !strings.HasPrefix(string(tooLarge.Raw), prefix[strings.LastIndexAny(prefix, "\n[")+1:]) {
		t.Errorf("raw starts %q", truncate(tooLarge.Raw, 20))
	}
	if after != "" && (len(rec.docs) == 0 || rec.docs[len(rec.docs)-1].Text != after) {
		t.Errorf("the record after the huge one was not read: %q", rec.texts())
	}
}
