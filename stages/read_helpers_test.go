package stages

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// event is one thing a reader emitted, in order.
type event struct {
	doc *pipeline.Doc
	bad *pipeline.BadRecord
}

// recorder is an Emitter that keeps everything.
type recorder struct {
	events []event
	docs   []pipeline.Doc
	bads   []pipeline.BadRecord
	failAt int   // Doc returns err at this doc number (1-based); 0 never
	err    error // what Doc returns then
}

func (r *recorder) Doc(d pipeline.Doc) error {
	if r.failAt > 0 && len(r.docs)+1 == r.failAt {
		return r.err
	}
	r.docs = append(r.docs, d)
	r.events = append(r.events, event{doc: &r.docs[len(r.docs)-1]})
	return nil
}

func (r *recorder) Bad(b pipeline.BadRecord) {
	r.bads = append(r.bads, b)
	r.events = append(r.events, event{bad: &b})
}

// kinds lists the kinds of the bad records, in order.
func (r *recorder) kinds() []string {
	var ks []string
	for _, b := range r.bads {
		ks = append(ks, b.Kind)
	}
	return ks
}

func (r *recorder) texts() []string {
	var ts []string
	for _, d := range r.docs {
		ts = append(ts, d.Text)
	}
	return ts
}

// testConfig is the default input config with some options changed.
func testConfig(mod func(*pipeline.InputConfig)) pipeline.InputConfig {
	cfg := pipeline.Defaults().Input
	if mod != nil {
		mod(&cfg)
	}
	return cfg
}

// readData reads data as a file called name.
func readData(t testing.TB, cfg pipeline.InputConfig, name string, data []byte) *recorder {
	t.Helper()
	rec := &recorder{}
	readInto(t, cfg, pipeline.InputFile{Path: name, Rel: name, Size: int64(len(data))}, bytes.NewReader(data), rec)
	return rec
}

func readInto(t testing.TB, cfg pipeline.InputConfig, f pipeline.InputFile, r io.Reader, rec *recorder) {
	t.Helper()
	fr, err := NewFileReader(cfg)
	if err != nil {
		t.Fatalf("NewFileReader: %v", err)
	}
	if err := fr.ReadFile(context.Background(), f, r, rec); err != nil {
		t.Fatalf("ReadFile(%s): %v", f.Rel, err)
	}
	checkInvariants(t, rec)
}

// readPath reads a file on disk.
func readPath(t testing.TB, cfg pipeline.InputConfig, path string) *recorder {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	fi, _ := fh.Stat()
	rec := &recorder{}
	readInto(t, cfg, pipeline.InputFile{Path: path, Rel: filepath.Base(path), Size: fi.Size()}, fh, rec)
	return rec
}

// shared returns the path of a file in the shared corpora (skipping the
// test when they are absent).
func shared(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(testenv.SharedCorpora(t), rel)
}

// checkInvariants holds for every read: valid UTF-8 text, offsets that
// increase, raw bytes capped, something emitted.
func checkInvariants(t testing.TB, rec *recorder) {
	t.Helper()
	if len(rec.events) == 0 {
		t.Errorf("nothing emitted")
	}
	last := int64(-1)
	for i, e := range rec.events {
		var off int64
		switch {
		case e.doc != nil:
			if !utf8.ValidString(e.doc.Text) {
				t.Errorf("event %d: doc text is not valid UTF-8: %q", i, e.doc.Text)
			}
			if isBlank(e.doc.Text) {
				t.Errorf("event %d: blank doc at offset %d", i, e.doc.Offset)
			}
			off = e.doc.Offset
		default:
			if len(e.bad.Raw) > pipeline.MaxQuarantineRaw {
				t.Errorf("event %d: raw of %d bytes", i, len(e.bad.Raw))
			}
			if e.bad.Offset < 0 {
				continue
			}
			off = e.bad.Offset
		}
		if off <= last {
			t.Errorf("event %d: offset %d after %d", i, off, last)
		}
		last = off
	}
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstdBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(data, nil)
}

// jsonlOf makes JSON Lines with n records {"id": i, "text": "第i条 ..."}.
func jsonlOf(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "{\"id\": %d, \"text\": \"第%d条记录：中文文本。\"}\n", i, i)
	}
	return []byte(b.String())
}

func wantKinds(t *testing.T, rec *recorder, want ...string) {
	t.Helper()
	got := rec.kinds()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("bad kinds = %v, want %v", got, want)
		for _, b := range rec.bads {
			t.Logf("  %s off=%d byte=%d size=%d: %s (raw %q)", b.Kind, b.Offset, b.ByteOffset, b.Size, b.Err, truncate(b.Raw, 80))
		}
	}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
