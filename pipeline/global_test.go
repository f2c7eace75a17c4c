package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
)

// textDedup is a test global stage: a row whose text equals an earlier
// alive row's text is dropped, and every row gets the ordinal of the row it
// duplicates (or its own) in a column. It keeps everything in memory.
type textDedup struct{}

type textDedupCollector struct {
	first map[string]int64 // text → first ordinal
	of    []int64          // ordinal → ordinal of its first copy
}

type textDedupDecider struct {
	of   []int64
	next int64
}

func (textDedup) Name() string { return "text_dedup" }

func (d textDedup) Process(ctx context.Context, b *Batch) error {
	texts := b.Texts()
	keys := make([]string, b.Len())
	for i := range keys {
		if b.Alive(i) {
			keys[i] = strings.ToLower(texts.Value(i))
		}
	}
	b.SetSide(d, keys)
	return nil
}

func (textDedup) NewCollector(env GlobalEnv) (Collector, error) {
	if fi, err := os.Stat(env.WorkDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("work dir %s: %v", env.WorkDir, err)
	}
	return &textDedupCollector{first: map[string]int64{}}, nil
}

func (c *textDedupCollector) Add(b *Batch) error {
	keys := b.Side(textDedup{}).([]string)
	for i, k := range keys {
		if !b.Alive(i) {
			continue
		}
		ord := int64(len(c.of))
		if f, ok := c.first[k]; ok {
			c.of = append(c.of, f)
			continue
		}
		c.first[k] = ord
		c.of = append(c.of, ord)
	}
	return nil
}

func (c *textDedupCollector) Resolve(ctx context.Context) (Decider, error) {
	return &textDedupDecider{of: c.of}, nil
}

// Attach gives each alive row its ordinal and the ordinal of its first copy.
func (d *textDedupDecider) Attach(b *Batch) error {
	rows := make([][2]int64, b.Len())
	for i := range rows {
		rows[i] = [2]int64{-1, -1}
		if b.Alive(i) {
			rows[i] = [2]int64{d.next, d.of[d.next]}
			d.next++
		}
	}
	b.SetSide(textDedup{}, rows)
	return nil
}

func (d *textDedupDecider) Counts() map[string]int64 {
	return map[string]int64{"ordinals": int64(len(d.of))}
}

func (d *textDedupDecider) Close() error {
	if d.next != int64(len(d.of)) {
		return fmt.Errorf("attached %d ordinals of %d", d.next, len(d.of))
	}
	return nil
}

func (d textDedup) Apply(ctx context.Context, b *Batch) error {
	rows := b.Side(d).([][2]int64)
	col := array.NewInt64Builder(b.Allocator())
	defer col.Release()
	for i, r := range rows {
		if r[0] < 0 {
			col.AppendNull()
			continue
		}
		col.Append(r[1])
		if r[1] != r[0] {
			b.Drop(i, "text_dedup", "exact_duplicate")
		}
	}
	return b.SetColumn(arrow.Field{Name: "dup_first", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, col.NewArray())
}

// tokenize and needTokens check that tokens set before a global stage reach
// the stages after it.
type tokenize struct{}

func (tokenize) Name() string { return "tokenize" }
func (tokenize) Process(ctx context.Context, b *Batch) error {
	b.Tokens = make([][]string, b.Len())
	texts := b.Texts()
	for i := range b.Tokens {
		if b.Alive(i) {
			b.Tokens[i] = strings.Fields(texts.Value(i))
		}
	}
	return nil
}

type needTokens struct{}

func (needTokens) Name() string { return "need_tokens" }
func (needTokens) Process(ctx context.Context, b *Batch) error {
	n := array.NewInt64Builder(b.Allocator())
	defer n.Release()
	texts := b.Texts()
	for i := 0; i < b.Len(); i++ {
		if !b.Alive(i) {
			n.AppendNull()
			continue
		}
		if b.Tokens == nil || strings.Join(b.Tokens[i], " ") != strings.Join(strings.Fields(texts.Value(i)), " ") {
			return fmt.Errorf("row %d: tokens lost across the barrier", i)
		}
		n.Append(int64(len(b.Tokens[i])))
	}
	return b.SetColumn(arrow.Field{Name: "n_tokens", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, n.NewArray())
}

func globalRegistry() *Registry {
	r := testRegistry()
	simple := func(name string, st Stage) {
		r.Register(StageInfo{Name: name, Defaults: func() any { return &struct{}{} }, New: func(any, string) (Stage, error) { return st, nil }})
	}
	simple("tokenize", tokenize{})
	simple("text_dedup", textDedup{})
	simple("need_tokens", needTokens{})
	return r
}

// writeDupCorpus writes lines where every text appears several times.
func writeDupCorpus(t *testing.T, files, lines int) string {
	t.Helper()
	dir := t.TempDir()
	for f := 0; f < files; f++ {
		var sb strings.Builder
		for l := 0; l < lines; l++ {
			switch {
			case l%13 == 4:
				sb.WriteString("short\n")
			case l%17 == 5:
				sb.WriteString("BAD record\n")
			default:
				fmt.Fprintf(&sb, "Line Number %d of a repeated corpus 重复\n", (f*lines+l)%97)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.txt", f)), []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func globalConfig(in, out string, workers int) Config {
	cfg := testConfig(in, out, workers)
	cfg.Stages = []StageSpec{
		{Name: "tokenize", Path: "stages[0].tokenize"},
		{Name: "drop_short", Path: "stages[1].drop_short"},
		{Name: "text_dedup", Path: "stages[2].text_dedup"},
		{Name: "need_tokens", Path: "stages[3].need_tokens"},
	}
	return cfg
}

func TestGlobalStagePasses(t *testing.T) {
	in := writeDupCorpus(t, 6, 300)
	outs := []string{filepath.Join(t.TempDir(), "w1"), filepath.Join(t.TempDir(), "w8")}
	var results []*Result
	for i, w := range []int{1, 8} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		res, err := Run(context.Background(), RunOptions{Config: globalConfig(in, outs[i], w), Registry: globalRegistry(), Alloc: mem})
		if err != nil {
			t.Fatalf("run with %d workers: %v", w, err)
		}
		mem.AssertSize(t, 0)
		results = append(results, res)
		if _, err := os.Stat(filepath.Join(outs[i], WorkDir)); !os.IsNotExist(err) {
			t.Errorf("work area left after success: %v", err)
		}
		assertNoTempFiles(t, outs[i])
	}
	res := results[0]
	var short, bad, good int64
	for l := 0; l < 300; l++ {
		switch {
		case l%13 == 4:
			short++
		case l%17 == 5:
			bad++
		default:
			good++
		}
	}
	tot := res.Manifest.Totals
	if tot.Kept != 97 || tot.Read != 6*300 || tot.Quarantined != 6*bad || tot.Rejected != 6*short+6*good-97 {
		t.Errorf("totals = %+v; want 97 kept, %d short and %d duplicates rejected", tot, 6*short, 6*good-97)
	}
	kept := testenv.ReadRows(t, filepath.Join(outs[0], "shards"))
	seen := map[any]bool{}
	for _, r := range kept {
		if seen[r["text"]] || r["n_tokens"] == nil || r["dup_first"] == nil {
			t.Fatalf("kept row %v: duplicate or missing a column", r)
		}
		seen[r["text"]] = true
	}
	rej := testenv.ReadRows(t, filepath.Join(outs[0], "rejected"))
	reasons := map[any]int64{}
	for _, r := range rej {
		reasons[r["drop_reason"]]++
		if _, ok := r["n_tokens"]; !ok {
			t.Fatalf("rejected row lacks the later stage's column: %v", r)
		}
	}
	if reasons["exact_duplicate"] != 6*good-97 || reasons["drop_short.bytes<10"] != 6*short {
		t.Errorf("drop reasons = %v", reasons)
	}
	st := res.Stats.Stages[2]
	if st.In.Docs != 6*good || st.Out.Docs != 97 || st.Dropped["exact_duplicate"].Docs != 6*good-97 || st.Counts["ordinals"] != 6*good {
		t.Errorf("global stage stats = %+v", st)
	}
	for _, o := range res.Manifest.Outputs {
		if o.Path == "stats.json" || o.Path == "config.yaml" {
			continue
		}
		a, _ := os.ReadFile(filepath.Join(outs[0], o.Path))
		b, err := os.ReadFile(filepath.Join(outs[1], o.Path))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between 1 and 8 workers (%v)", o.Path, err)
		}
	}
}
