package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/cespare/xxhash/v2"

	"winnow/internal/testenv"
)

// lineReader is a test FileReader: one document per line; a line "BAD …"
// is a malformed record; a line "ID=x …" sets the id.
type lineReader struct{}

func (lineReader) ReadFile(ctx context.Context, f InputFile, r io.Reader, emit Emitter) error {
	sc := bufio.NewScanner(r)
	var line int64
	for sc.Scan() {
		line++
		t := sc.Text()
		switch {
		case t == "":
			continue
		case strings.HasPrefix(t, "BAD"):
			emit.Bad(BadRecord{Kind: BadMalformed, Offset: line, ByteOffset: -1, Err: "bad line", Raw: []byte(t)})
			continue
		}
		d := Doc{Text: t, Offset: line}
		if id, rest, ok := strings.Cut(t, " "); ok && strings.HasPrefix(id, "ID=") {
			d.ID, d.Text = strings.TrimPrefix(id, "ID="), rest
		}
		if err := emit.Doc(d); err != nil {
			return err
		}
	}
	return nil
}

// dropShort is a test stage: drops texts shorter than min bytes and adds a
// signal column.
type dropShort struct{ min int }

func (dropShort) Name() string { return "drop_short" }
func (s dropShort) Process(ctx context.Context, b *Batch) error {
	lb := array.NewInt64Builder(b.Allocator())
	defer lb.Release()
	texts := b.Texts()
	for i := 0; i < b.Len(); i++ {
		lb.Append(int64(texts.ValueLen(i)))
		if b.Alive(i) && texts.ValueLen(i) < s.min {
			b.Drop(i, "drop_short", fmt.Sprintf("drop_short.bytes<%d", s.min))
			b.AddCount("short_seen", 1)
		}
	}
	return b.SetColumn(arrow.Field{Name: "drop_short_bytes", Type: arrow.PrimitiveTypes.Int64}, lb.NewArray())
}

func testRegistry() *Registry {
	r := NewRegistry()
	r.NewReader = func(InputConfig) (FileReader, error) { return lineReader{}, nil }
	r.Register(StageInfo{
		Name: "drop_short",
		Defaults: func() any {
			return &struct {
				Min int `yaml:"min"`
			}{Min: 10}
		},
		New: func(o any, where string) (Stage, error) {
			return dropShort{min: o.(*struct {
				Min int `yaml:"min"`
			}).Min}, nil
		},
	})
	return r
}

// writeCorpus writes a few input files with good, short and bad lines.
func writeCorpus(t *testing.T, files, lines int) string {
	t.Helper()
	dir := t.TempDir()
	for f := 0; f < files; f++ {
		var sb strings.Builder
		for l := 0; l < lines; l++ {
			switch {
			case l%17 == 5:
				sb.WriteString("BAD record\n")
			case l%7 == 3:
				sb.WriteString("short\n")
			case l%11 == 0:
				fmt.Fprintf(&sb, "ID=doc-%d-%d 第%d个文件的第%d行：中文文本，用于测试。\n", f, l, f, l)
			default:
				fmt.Fprintf(&sb, "file %d line %d: some text that is long enough 中文\n", f, l)
			}
		}
		sub := filepath.Join(dir, fmt.Sprintf("part%d", f%3))
		os.MkdirAll(sub, 0o755)
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%02d.txt", f)), []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func testConfig(in, out string, workers int) Config {
	cfg := Defaults()
	cfg.Input.Paths = []string{in}
	cfg.Input.BatchDocs = 50 // many batches, so ordering matters
	cfg.Output.Dir = out
	cfg.Output.ShardBytes = 16 << 10
	cfg.Output.RowGroupBytes = 4 << 10
	cfg.Workers = workers
	cfg.Stages = []StageSpec{{Name: "drop_short", Path: "stages[0].drop_short"}}
	return cfg
}

func runOK(t *testing.T, cfg Config, mem memory.Allocator) *Result {
	t.Helper()
	res, err := Run(context.Background(), RunOptions{Config: cfg, Registry: testRegistry(), Alloc: mem})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func TestRunDeterministicAcrossWorkers(t *testing.T) {
	in := writeCorpus(t, 12, 400)
	out1, out8 := filepath.Join(t.TempDir(), "w1"), filepath.Join(t.TempDir(), "w8")
	r1 := runOK(t, testConfig(in, out1, 1), nil)
	r8 := runOK(t, testConfig(in, out8, 8), nil)
	if len(r1.Manifest.Outputs) < 4 {
		t.Fatalf("expected several shards with a 16 KiB shard size, got %+v", r1.Manifest.Outputs)
	}
	if r1.Manifest.ConfigSHA256 != r8.Manifest.ConfigSHA256 {
		t.Errorf("config hash depends on workers or output dir")
	}
	if len(r1.Manifest.Outputs) != len(r8.Manifest.Outputs) {
		t.Fatalf("outputs differ: %d vs %d", len(r1.Manifest.Outputs), len(r8.Manifest.Outputs))
	}
	for i, o := range r1.Manifest.Outputs {
		if o.Path == "stats.json" || o.Path == "config.yaml" {
			continue // timings; the worker count and output dir
		}
		a, _ := os.ReadFile(filepath.Join(out1, o.Path))
		b, err := os.ReadFile(filepath.Join(out8, r8.Manifest.Outputs[i].Path))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between 1 and 8 workers (%v)", o.Path, err)
		}
	}
}

func TestRunTotalsAndContent(t *testing.T) {
	in := writeCorpus(t, 5, 100)
	out := filepath.Join(t.TempDir(), "out")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	res := runOK(t, testConfig(in, out, 4), mem)
	mem.AssertSize(t, 0) // every Arrow buffer released

	// Expected from the generator: per file 100 lines.
	var bad, short, good int64
	for l := 0; l < 100; l++ {
		switch {
		case l%17 == 5:
			bad++
		case l%7 == 3:
			short++
		default:
			good++
		}
	}
	tot := res.Manifest.Totals
	want := Totals{Read: 5 * 100, Kept: 5 * good, Rejected: 5 * short, Quarantined: 5 * bad}
	if tot != want {
		t.Errorf("totals = %+v, want %+v", tot, want)
	}
	if got := testenv.ReadRows(t, filepath.Join(out, "shards")); int64(len(got)) != tot.Kept {
		t.Errorf("shards hold %d rows, manifest says %d", len(got), tot.Kept)
	} else if got[0]["source"] != "part0/f00.txt" || got[0]["id"] != "doc-0-0" || got[0]["offset"] != int64(1) {
		t.Errorf("first row = %v", got[0])
	}
	rej := testenv.ReadRows(t, filepath.Join(out, "rejected"))
	if int64(len(rej)) != tot.Rejected {
		t.Fatalf("rejected shards hold %d rows, want %d", len(rej), tot.Rejected)
	}
	for _, r := range rej {
		if r["drop_stage"] != "drop_short" || r["drop_reason"] != "drop_short.bytes<10" || r["drop_short_bytes"] != int64(5) {
			t.Fatalf("rejected row = %v", r)
		}
	}
	q := readQuarantine(t, out)
	if int64(len(q)) != tot.Quarantined || q[0]["kind"] != BadMalformed || q[0]["raw"] != "BAD record" || q[0]["file"] != "part0/f00.txt" {
		t.Errorf("quarantine = %d lines, first %v", len(q), q[0])
	}
	st := res.Stats.Stages[0]
	if st.In.Docs != 5*(good+short) || st.Out.Docs != 5*good || st.Dropped["drop_short.bytes<10"].Docs != 5*short || st.Counts["short_seen"] != 5*short {
		t.Errorf("stage stats = %+v", st)
	}
	for _, name := range []string{"manifest.json", "stats.json", "config.yaml"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	assertNoTempFiles(t, out)
}

func readQuarantine(t *testing.T, out string) []map[string]any {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(out, "quarantine", "*.jsonl"))
	var lines []map[string]any
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(l, &m); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			lines = append(lines, m)
		}
	}
	return lines
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestRunOutputDirChecks(t *testing.T) {
	in := writeCorpus(t, 1, 10)
	t.Run("foreign files", func(t *testing.T) {
		out := t.TempDir()
		os.WriteFile(filepath.Join(out, "precious.txt"), []byte("x"), 0o644)
		_, err := Run(context.Background(), RunOptions{Config: testConfig(in, out, 1), Registry: testRegistry()})
		if !errors.Is(err, ErrOutput) || !strings.Contains(err.Error(), "precious.txt") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not writable", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "file-not-dir")
		os.WriteFile(out, []byte("x"), 0o644)
		_, err := Run(context.Background(), RunOptions{Config: testConfig(in, filepath.Join(out, "sub"), 1), Registry: testRegistry()})
		if !errors.Is(err, ErrOutput) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("rerun replaces previous run", func(t *testing.T) {
		out := t.TempDir()
		cfg := testConfig(in, out, 2)
		runOK(t, cfg, nil)
		cfg.Output.KeepRejected = false
		runOK(t, cfg, nil)
		if _, err := os.Stat(filepath.Join(out, "rejected")); !os.IsNotExist(err) {
			t.Errorf("previous run's rejected/ survived: %v", err)
		}
	})
	t.Run("missing input", func(t *testing.T) {
		_, err := Run(context.Background(), RunOptions{Config: testConfig(filepath.Join(in, "nope"), t.TempDir(), 1), Registry: testRegistry()})
		if !errors.Is(err, ErrInput) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown stage", func(t *testing.T) {
		cfg := testConfig(in, t.TempDir(), 1)
		cfg.Stages = append(cfg.Stages, StageSpec{Name: "nosuch", Path: "stages[1].nosuch", File: "p.yaml", Line: 7})
		_, err := Run(context.Background(), RunOptions{Config: cfg, Registry: testRegistry()})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `p.yaml:7: stages[1].nosuch: unknown stage "nosuch"`) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRunCancelled(t *testing.T) {
	in := writeCorpus(t, 20, 500)
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, RunOptions{Config: testConfig(in, out, 4), Registry: testRegistry()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, ManifestFile)); !os.IsNotExist(err) {
		t.Errorf("a cancelled run wrote a manifest")
	}
	assertNoTempFiles(t, out)
}

// vanishingReader deletes the next input file while reading the first, as
// a concurrent cleanup job would.
type vanishingReader struct {
	lineReader
	victim string
}

func (v vanishingReader) ReadFile(ctx context.Context, f InputFile, r io.Reader, emit Emitter) error {
	os.Remove(v.victim)
	return v.lineReader.ReadFile(ctx, f, r, emit)
}

func TestRunFileVanishesMidRun(t *testing.T) {
	in := writeCorpus(t, 3, 20) // part0/f00.txt, part1/f01.txt, part2/f02.txt
	reg := testRegistry()
	reg.NewReader = func(InputConfig) (FileReader, error) {
		return vanishingReader{victim: filepath.Join(in, "part1", "f01.txt")}, nil
	}
	out := filepath.Join(t.TempDir(), "out")
	res, err := Run(context.Background(), RunOptions{Config: testConfig(in, out, 2), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	var vanished []InputRecord
	for _, in := range res.Manifest.Inputs {
		if in.Bad[BadVanished] > 0 {
			vanished = append(vanished, in)
		}
	}
	if len(vanished) != 1 || vanished[0].Source != "part1/f01.txt" || vanished[0].Docs != 0 {
		t.Fatalf("vanished inputs = %+v", vanished)
	}
	if res.Manifest.Inputs[2].Docs == 0 {
		t.Errorf("the file after the vanished one was not read")
	}
	var kinds []any
	for _, line := range readQuarantine(t, out) {
		if line["file"] == "part1/f01.txt" {
			kinds = append(kinds, line["kind"])
		}
	}
	if len(kinds) != 1 || kinds[0] != BadVanished {
		t.Errorf("quarantine lines for the vanished file: %v", kinds)
	}
}

func TestDerivedID(t *testing.T) {
	tests := []struct {
		source string
		offset int64
	}{{"a.txt", 0}, {"dir/b.jsonl", 17}, {"", 0}, {"中文/路径.md", 1 << 40}}
	seen := map[string]bool{}
	for _, tc := range tests {
		id := DerivedID(tc.source, tc.offset)
		h := xxhash.New()
		h.WriteString(tc.source + "\x00" + fmt.Sprint(tc.offset))
		if want := fmt.Sprintf("%016x", h.Sum64()); id != want {
			t.Errorf("DerivedID(%q, %d) = %s, want %s", tc.source, tc.offset, id, want)
		}
		if seen[id] {
			t.Errorf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

// A run whose output directory sits inside its input never reads its own
// previous shards back.
func TestRunOutputInsideInput(t *testing.T) {
	in := writeCorpus(t, 2, 30)
	cfg := testConfig(in, filepath.Join(in, "out"), 1)
	first := runOK(t, cfg, nil)
	second := runOK(t, cfg, nil)
	if len(second.Manifest.Inputs) != 2 || second.Manifest.Totals != first.Manifest.Totals {
		t.Errorf("second run read %d inputs, totals %+v (first %+v)", len(second.Manifest.Inputs), second.Manifest.Totals, first.Manifest.Totals)
	}
}

// A symlink to a file is listed as the file (it used to be skipped without
// a word), a dangling one too (reading it quarantines it); a symlink to a
// directory is not followed.
func TestListInputsSymlinks(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.MkdirAll(filepath.Join(in, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "elsewhere.jsonl"), []byte(`{"text":"x"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(in, "sub", "a.jsonl"), []byte(`{"text":"y"}`+"\n"), 0o644)
	if err := os.Symlink(filepath.Join(dir, "elsewhere.jsonl"), filepath.Join(in, "linked.jsonl")); err != nil {
		t.Fatal(err)
	}
	os.Symlink(filepath.Join(in, "sub"), filepath.Join(in, "loop"))
	os.Symlink(filepath.Join(dir, "missing.jsonl"), filepath.Join(in, "dangling.jsonl"))
	files, err := ListInputs(InputConfig{Paths: []string{in}})
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	for _, f := range files {
		rels = append(rels, f.Rel)
		if f.Rel == "linked.jsonl" && f.Size != 13 {
			t.Errorf("linked.jsonl: size %d, want the target's 13", f.Size)
		}
	}
	if want := []string{"dangling.jsonl", "linked.jsonl", "sub/a.jsonl"}; !slices.Equal(rels, want) {
		t.Errorf("listed %v, want %v", rels, want)
	}
	cfg := testConfig(in, filepath.Join(dir, "out"), 1)
	cfg.Stages = nil
	res, err := Run(context.Background(), RunOptions{Config: cfg, Registry: testRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if tt := res.Manifest.Totals; tt.Kept != 2 || tt.Quarantined != 1 {
		t.Errorf("totals %+v, want the two documents kept and the dangling link quarantined", tt)
	}
}
