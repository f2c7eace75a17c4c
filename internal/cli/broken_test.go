package cli

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// Every broken fixture through the whole engine: exact documents and
// quarantine kinds per file (fixtures/EXPECTED.md), the run goes on, and the
// exit code says some input was quarantined.
func TestBrokenFixtures(t *testing.T) {
	t.Chdir(testenv.RepoRoot(t))
	want := map[string]struct {
		docs int64
		bad  map[string]int64
	}{
		"malformed.jsonl":      {8, map[string]int64{pipeline.BadMalformed: 2}},
		"truncated-array.json": {20, map[string]int64{pipeline.BadTruncated: 1}},
		"truncated.jsonl.gz":   {24, map[string]int64{pipeline.BadTruncated: 1}},
		"truncated.jsonl.zst":  {30, map[string]int64{pipeline.BadTruncated: 1}},
		"binary.bin":           {0, map[string]int64{pipeline.BadBinary: 1}},
		"empty.jsonl":          {0, map[string]int64{pipeline.BadEmptyFile: 1}},
		"bom-fields.csv":       {6, map[string]int64{}},
		"gb18030.csv":          {0, map[string]int64{pipeline.BadMissingText: 50}},
		"big5.txt":             {1, map[string]int64{}},
		"crlf.jsonl":           {20, map[string]int64{}},
		"jsonl-named.json":     {15, map[string]int64{}},
		"invalid-utf8.jsonl":   {9, map[string]int64{pipeline.BadEncoding: 1}},
	}
	out := filepath.Join(t.TempDir(), "out")
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	code := Run(context.Background(), RunFlags{Inputs: []string{"fixtures/broken"}, Output: out, Workers: 2, LogFormat: "text", LogLevel: "warn"}, stderr)
	stderr.Close()
	msg, _ := os.ReadFile(stderr.Name())
	if code != ExitQuarantined {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, ExitQuarantined, msg)
	}
	m, err := pipeline.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Inputs) != len(want) {
		t.Errorf("%d inputs in the manifest, want %d", len(m.Inputs), len(want))
	}
	var docs, bad int64
	for _, in := range m.Inputs {
		w, ok := want[in.Source]
		if !ok {
			t.Errorf("unexpected input %s", in.Source)
			continue
		}
		if in.Docs != w.docs || len(in.Bad)+len(w.bad) > 0 && !reflect.DeepEqual(in.Bad, w.bad) {
			t.Errorf("%s: %d docs, bad %v; want %d docs, bad %v", in.Source, in.Docs, in.Bad, w.docs, w.bad)
		}
		if in.SHA256 == "" {
			t.Errorf("%s: no content hash", in.Source)
		}
		docs += w.docs
		for _, n := range w.bad {
			bad += n
		}
	}
	if tot := m.Totals; tot.Read != docs+bad || tot.Kept+tot.Rejected != docs || tot.Quarantined != bad {
		t.Errorf("totals %+v, want read %d = docs %d + quarantined %d", tot, docs+bad, docs, bad)
	}
	for _, r := range readParquetGo(t, out)["shards/part-00000.parquet"] {
		if strings.ContainsRune(r.Text, '\ufeff') || strings.ContainsRune(r.ID, '\ufeff') || strings.ContainsRune(r.Text, '\ufffd') {
			t.Errorf("%s:%d: BOM or replacement character passed on: %q", r.Source, r.Offset, r.ID)
		}
	}
}
