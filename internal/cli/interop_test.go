package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// row is one shard row in the form every reader is compared in.
type row struct {
	ID       string             `json:"id" parquet:"id"`
	Text     string             `json:"text" parquet:"text"`
	Source   string             `json:"source" parquet:"source"`
	Offset   int64              `json:"offset" parquet:"offset"`
	Messages []pipeline.Message `json:"messages" parquet:"messages,optional,list"`
}

// runFixtures runs cfg (from a YAML string) on the fixtures, from the repo root.
func runFixtures(t *testing.T, yml string) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	t.Chdir(root)
	out := filepath.Join(t.TempDir(), "out")
	cfg, err := pipeline.ParseConfig([]byte(yml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Output.Dir = out
	if _, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: NewRegistry()}); err != nil {
		t.Fatalf("run: %v", err)
	}
	return out
}

// readParquetGo reads every shard of a run with parquet-go, a Parquet
// implementation independent of the one that wrote them.
func readParquetGo(t *testing.T, out string) map[string][]row {
	t.Helper()
	shards := map[string][]row{}
	for _, sub := range []string{"shards", "rejected"} {
		paths, _ := filepath.Glob(filepath.Join(out, sub, "*.parquet"))
		for _, p := range paths {
			rows, err := parquet.ReadFile[row](p)
			if err != nil {
				t.Fatalf("parquet-go read %s: %v", p, err)
			}
			rel, _ := filepath.Rel(out, p)
			shards[filepath.ToSlash(rel)] = rows
		}
	}
	if len(shards) == 0 {
		t.Fatalf("no shards in %s", out)
	}
	return shards
}

// readPython runs tools/interop/read_shards.py. Outside CI a machine without
// the Python readers skips; in CI (CI=true) their absence is a failure.
func readPython(t *testing.T, out string) (map[string]map[string][]row, map[string]map[string][]map[string]any) {
	t.Helper()
	check := exec.Command("python3", "-c", "import pyarrow, pandas, duckdb, datasets")
	if msg, err := check.CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python readers missing in CI (pip install -r tools/interop/requirements.txt): %v\n%s", err, msg)
		}
		t.Skipf("python readers not installed: %s", bytes.TrimSpace(msg))
	}
	dump := filepath.Join(t.TempDir(), "rows.json")
	script := filepath.Join(testenv.RepoRoot(t), "tools", "interop", "read_shards.py")
	cmd := exec.Command("python3", script, out, dump)
	cmd.Env = append(os.Environ(), "HF_HOME="+t.TempDir())
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("read_shards.py: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string][]row
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	var all map[string]map[string][]map[string]any
	if err := json.Unmarshal(data, &all); err != nil {
		t.Fatal(err)
	}
	return got, all
}

// expectedPlain parses the demo corpus independently of winnow's readers:
// JSONL lines by encoding/json, .md/.txt files as one document each. The
// readers drop a BOM inside a JSON string and at the start of a text file.
func expectedPlain(t *testing.T, dir string) map[string]row {
	t.Helper()
	want := map[string]row{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(p, ".jsonl") {
			text := strings.TrimRight(strings.TrimPrefix(string(data), "\ufeff"), "\r\n")
			id := pipeline.DerivedID(rel, 0)
			want[id] = row{ID: id, Text: text, Source: rel, Offset: 0}
			return nil
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<24)
		for line := int64(1); sc.Scan(); line++ {
			var rec struct{ ID, Text string }
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("%s:%d: %v", rel, line, err)
			}
			want[rec.ID] = row{ID: rec.ID, Text: strings.ReplaceAll(rec.Text, "\ufeff", ""), Source: rel, Offset: line}
		}
		return nil
	})
	return want
}

// compareAll checks that parquet-go and every Python reader see exactly the
// expected rows, value for value.
func compareAll(t *testing.T, out string, want map[string]row) {
	t.Helper()
	pg := readParquetGo(t, out)
	checkRows(t, "parquet-go", pg, want)
	typed, all := readPython(t, out)
	checkReadersAgree(t, all)
	for reader, shards := range typed {
		if len(shards) != len(pg) {
			t.Errorf("%s read %d shards, parquet-go %d", reader, len(shards), len(pg))
		}
		checkRows(t, reader, shards, want)
		for name, rows := range pg {
			if len(shards[name]) != len(rows) {
				t.Errorf("%s: %s has %d rows, parquet-go read %d", reader, name, len(shards[name]), len(rows))
				continue
			}
			for i := range rows {
				if !reflect.DeepEqual(normalise(shards[name][i]), normalise(rows[i])) {
					t.Errorf("%s: %s row %d differs from parquet-go's reading:\n%s\n%s", reader, name, i, brief(shards[name][i]), brief(rows[i]))
					break
				}
			}
		}
	}
}

// checkReadersAgree compares every column of every row (stage signals
// included) across the Python readers, with pyarrow as the reference.
func checkReadersAgree(t *testing.T, all map[string]map[string][]map[string]any) {
	t.Helper()
	ref := all["pyarrow"]
	for reader, shards := range all {
		for name, rows := range ref {
			if len(shards[name]) != len(rows) {
				t.Errorf("%s: %s has %d rows, pyarrow %d", reader, name, len(shards[name]), len(rows))
				continue
			}
			for i := range rows {
				if !reflect.DeepEqual(normaliseAny(shards[name][i]), normaliseAny(rows[i])) {
					t.Errorf("%s: %s row %d differs from pyarrow:\n%v\n%v", reader, name, i, shards[name][i], rows[i])
					break
				}
			}
		}
	}
}

// normaliseAny treats an empty list like null, as some readers return one
// for the other.
func normaliseAny(row map[string]any) map[string]any {
	out := make(map[string]any, len(row))
	for k, v := range row {
		if l, ok := v.([]any); ok && len(l) == 0 {
			v = nil
		}
		out[k] = v
	}
	return out
}

func checkRows(t *testing.T, reader string, shards map[string][]row, want map[string]row) {
	t.Helper()
	seen := map[string]bool{}
	for name, rows := range shards {
		for _, r := range rows {
			w, ok := want[r.ID]
			if !ok {
				t.Errorf("%s: %s: unexpected id %q", reader, name, r.ID)
				continue
			}
			if seen[r.ID] {
				t.Errorf("%s: id %q twice", reader, r.ID)
			}
			seen[r.ID] = true
			if !reflect.DeepEqual(normalise(r), normalise(w)) {
				t.Errorf("%s: %s: row %q\n got %s\nwant %s", reader, name, r.ID, brief(r), brief(w))
			}
		}
	}
	if len(seen) != len(want) {
		var missing []string
		for id := range want {
			if !seen[id] {
				missing = append(missing, id)
			}
		}
		sort.Strings(missing)
		t.Errorf("%s: %d of %d input documents missing, e.g. %v", reader, len(want)-len(seen), len(want), missing[:min(5, len(missing))])
	}
}

// normalise makes an empty message list and a null one compare equal.
func normalise(r row) row {
	if len(r.Messages) == 0 {
		r.Messages = nil
	}
	return r
}

// The fixtures corpus through a run that keeps text as it is: every value
// of every shard, read by every reader, equals the input.
func TestInteropCorpusValues(t *testing.T) {
	root := testenv.RepoRoot(t)
	out := runFixtures(t, "input: {paths: [fixtures/corpus]}\nstages:\n  - length: {min_chars: 30}\n")
	m, err := pipeline.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Totals.Rejected == 0 || m.Totals.Kept == 0 || m.Totals.Quarantined != 0 {
		t.Errorf("totals %+v: want kept and rejected documents and nothing quarantined", m.Totals)
	}
	compareAll(t, out, expectedPlain(t, filepath.Join(root, "fixtures", "corpus")))
}

// The demo recipe as `make demo` runs it, whatever stages it has: all
// readers agree on every column, and every input document is in exactly
// one shard with its id, source and offset (text may be normalised).
func TestInteropDemoRecipe(t *testing.T) {
	root := testenv.RepoRoot(t)
	yml, err := os.ReadFile(filepath.Join(root, "fixtures", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := runFixtures(t, string(yml))
	want := expectedPlain(t, filepath.Join(root, "fixtures", "corpus"))
	shards := readParquetGo(t, out)
	_, all := readPython(t, out)
	checkReadersAgree(t, all)
	seen := 0
	for name, rows := range shards {
		for _, r := range rows {
			w, ok := want[r.ID]
			if !ok || w.Source != r.Source || w.Offset != r.Offset {
				t.Errorf("%s: row %q (%s:%d) is not an input document", name, r.ID, r.Source, r.Offset)
			}
			seen++
		}
	}
	if seen != len(want) {
		t.Errorf("%d rows in shards and rejected/, %d input documents", seen, len(want))
	}
}

func TestInteropAlpacaMessages(t *testing.T) {
	root := testenv.RepoRoot(t)
	src := filepath.Join("fixtures", "sft", "alpaca-zh-hikariming-200.json")
	out := runFixtures(t, "input: {paths: ["+src+"], record: alpaca}\n")
	data, err := os.ReadFile(filepath.Join(root, src))
	if err != nil {
		t.Fatal(err)
	}
	var recs []struct{ Instruction, Input, Output string }
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatal(err)
	}
	want := map[string]row{}
	for i, r := range recs {
		user := r.Instruction
		if r.Input != "" {
			user += "\n\n" + r.Input
		}
		msgs := []pipeline.Message{{Role: "user", Content: user}, {Role: "assistant", Content: r.Output}}
		id := pipeline.DerivedID(filepath.Base(src), int64(i))
		want[id] = row{ID: id, Text: user + "\n\n" + r.Output, Source: filepath.Base(src), Offset: int64(i), Messages: msgs}
	}
	compareAll(t, out, want)
}

// brief renders a row for a failure message, text cut short.
func brief(r row) string {
	b, _ := json.Marshal(r)
	if s := []rune(string(b)); len(s) > 300 {
		return string(s[:300]) + "…"
	}
	return string(b)
}
