package dedup_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"winnow/dedup"
	"winnow/internal/cli"
	"winnow/internal/testenv"
	"winnow/pipeline"
)

// xdDoc is one input document of these tests: JSONL {"id", "text"}.
type xdDoc struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// xdDocs numbers texts as ids d0, d1, d2 … in input order.
func xdDocs(texts ...string) []xdDoc {
	docs := make([]xdDoc, len(texts))
	for i, s := range texts {
		docs[i] = xdDoc{ID: "d" + strconv.Itoa(i), Text: s}
	}
	return docs
}

// xdWriteJSONL writes docs as one JSONL file in a fresh directory.
func xdWriteJSONL(t *testing.T, docs []xdDoc) string {
	t.Helper()
	var sb strings.Builder
	for _, d := range docs {
		line, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(line)
		sb.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "docs.jsonl")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// xdWriteJSON writes v (an Alpaca array) as a .json file.
func xdWriteJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "records.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// xdYAMLPaths renders input paths as a YAML flow list.
func xdYAMLPaths(paths ...string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = strconv.Quote(p)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// xdRun runs the stage list over the input block (lines under input:)
// into a fresh run directory and returns the run's error instead of
// failing, so config and run errors can be checked.
func xdRun(t *testing.T, input, stages string, workers, batchDocs int) (*pipeline.Result, string, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	cfgPath := filepath.Join(t.TempDir(), "c.yaml")
	yml := "input:\n" + input + "output:\n  dir: " + strconv.Quote(out) + "\nstages:\n" + stages
	if err := os.WriteFile(cfgPath, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.LoadConfig(cfgPath)
	if err != nil {
		return nil, out, err
	}
	cfg.Workers = workers
	cfg.Input.BatchDocs = batchDocs
	res, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: cli.NewRegistry()})
	return res, out, err
}

// xdRunJSONL runs stages over docs written as JSONL; the run must succeed.
func xdRunJSONL(t *testing.T, docs []xdDoc, stages string) (*pipeline.Result, string) {
	t.Helper()
	in := xdWriteJSONL(t, docs)
	res, out, err := xdRun(t, "  paths: "+xdYAMLPaths(in)+"\n  format: jsonl\n", stages, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	return res, out
}

// xdRow is one output row and whether it was kept.
type xdRow struct {
	kept bool
	row  map[string]any
}

// xdRows reads kept and rejected rows by id.
func xdRows(t *testing.T, out string) map[string]xdRow {
	t.Helper()
	rows := map[string]xdRow{}
	for _, part := range []struct {
		dir  string
		kept bool
	}{{"shards", true}, {"rejected", false}} {
		for _, r := range testenv.ReadRows(t, filepath.Join(out, part.dir)) {
			id, _ := r["id"].(string)
			if _, dup := rows[id]; dup {
				t.Fatalf("id %q appears twice in the output", id)
			}
			rows[id] = xdRow{kept: part.kept, row: r}
		}
	}
	return rows
}

// xdCheck checks the dedup columns of every document against want, the
// index of each document's kept member (its own index when it is kept),
// with each cluster's size its number of members.
func xdCheck(t *testing.T, out string, docs []xdDoc, want []int, stage, reason string) {
	t.Helper()
	if len(want) != len(docs) {
		t.Fatalf("test bug: %d wants for %d docs", len(want), len(docs))
	}
	size := map[int]int64{}
	for _, k := range want {
		size[k]++
	}
	rows := xdRows(t, out)
	if len(rows) != len(docs) {
		t.Errorf("%d rows out, want %d", len(rows), len(docs))
	}
	for i, d := range docs {
		r, ok := rows[d.ID]
		if !ok {
			t.Errorf("%s (%q): missing from the output", d.ID, d.Text)
			continue
		}
		keeper := docs[want[i]].ID
		n := size[want[i]]
		var wantCluster any
		if n > 1 {
			wantCluster = keeper
		}
		got := fmt.Sprintf("kept=%v dup_of=%v dup_cluster=%v size=%v stage=%v reason=%v",
			r.kept, r.row["dup_of"], r.row["dup_cluster"], r.row["dup_cluster_size"], r.row["drop_stage"], r.row["drop_reason"])
		var exp string
		if want[i] == i {
			exp = fmt.Sprintf("kept=true dup_of=<nil> dup_cluster=%v size=%d stage=<nil> reason=<nil>", wantCluster, n)
		} else {
			exp = fmt.Sprintf("kept=false dup_of=%s dup_cluster=%s size=%d stage=%s reason=%s", keeper, keeper, n, stage, reason)
		}
		if got != exp {
			t.Errorf("%s (%q):\n got  %s\n want %s", d.ID, d.Text, got, exp)
		}
	}
}

// exactOpts renders exact_dedup's four normalisation switches.
func exactOpts(lower, punct, space, digits bool, more string) string {
	return fmt.Sprintf("  - exact_dedup: {lowercase: %v, strip_punct: %v, strip_space: %v, digits: %v%s}\n", lower, punct, space, digits, more)
}

// Each normalisation switch makes exactly the documents it should equal,
// and no others; the first copy is kept and names the cluster.
func TestExactNormalisation(t *testing.T) {
	long := strings.Repeat("中文数据清洗", 60) // 1,080 bytes: the hasher flushes its buffer several times
	spaced := func(s string) string {
		var sb strings.Builder
		for i, r := range []rune(s) {
			if i%7 == 3 {
				sb.WriteString(" \u3000")
			}
			sb.WriteRune(r)
		}
		return sb.String()
	}
	cases := []struct {
		name  string
		opts  string
		texts []string
		want  []int // index of each document's kept member
		empty int64 // documents whose key is empty
	}{
		{"lowercase on", exactOpts(true, false, false, false, ""),
			[]string{"Hello World", "hello world", "HELLO WORLD", "Hello  World", "Hello, World"},
			[]int{0, 0, 0, 3, 4}, 0},
		{"lowercase off", exactOpts(false, false, false, false, ""),
			[]string{"Hello World", "hello world", "Hello World", "HELLO WORLD"},
			[]int{0, 1, 0, 3}, 0},
		{"strip_punct on", exactOpts(false, true, false, false, ""),
			[]string{"你好，世界！", "你好,世界!", "你好世界", "【你好】～世界。", "你好 世界", "你好世界吗"},
			[]int{0, 0, 0, 0, 4, 5}, 0},
		{"strip_punct off", exactOpts(false, false, false, false, ""),
			[]string{"你好，世界！", "你好,世界!", "你好世界", "你好，世界！"},
			[]int{0, 1, 2, 0}, 0},
		{"strip_space on", exactOpts(false, false, true, false, ""),
			[]string{"a b c", "abc", "a\tb\nc", "a\u3000b\u00a0c", "a,b,c", "ABC"},
			[]int{0, 0, 0, 0, 4, 5}, 0},
		{"strip_space off", exactOpts(false, false, false, false, ""),
			[]string{"a b c", "abc", "a  b c", "a b c"},
			[]int{0, 1, 2, 0}, 0},
		{"digits on", exactOpts(false, false, false, true, ""),
			[]string{"2023年", "2024年", "２０２５年", "二〇二三年", "2023 年", "20231年"},
			[]int{0, 0, 0, 3, 4, 5}, 0},
		{"digits off", exactOpts(false, false, false, false, ""),
			[]string{"2023年", "2024年", "2023年"},
			[]int{0, 1, 0}, 0},
		{"empty after strip_punct: never a duplicate", exactOpts(true, true, true, false, ""),
			[]string{"！！！", "!!!", "！！！", "。。。 ", "★", "！！！"},
			[]int{0, 1, 2, 3, 4, 5}, 6},
		{"the same marks without strip_punct", exactOpts(true, false, true, false, ""),
			[]string{"！！！", "!!!", "！！！", "！ ！！"},
			[]int{0, 1, 0, 0}, 0},
		{"all four together", exactOpts(true, true, true, true, ""),
			[]string{"Hello, World 2023!", "hello world 1999", "ＨＥＬＬＯ world 2023", "HELLO，WORLD　２０２４！"},
			[]int{0, 0, 2, 0}, 0},
		{"long texts", exactOpts(true, true, true, false, ""),
			[]string{long + "甲", long + "乙", spaced(long) + "甲", spaced(long + "乙"), long, "甲" + long, "乙" + long, spaced("乙" + long)},
			[]int{0, 1, 0, 1, 4, 5, 6, 6}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			docs := xdDocs(c.texts...)
			res, out := xdRunJSONL(t, docs, c.opts)
			xdCheck(t, out, docs, c.want, "exact_dedup", "exact_duplicate")
			st := res.Stats.Stages[0]
			removed := 0
			for i, k := range c.want {
				if k != i {
					removed++
				}
			}
			if st.Name != "exact_dedup" || st.Dropped["exact_duplicate"].Docs != int64(removed) || len(st.Dropped) > 1 {
				t.Errorf("stats %s dropped %v, want %d exact_duplicate", st.Name, st.Dropped, removed)
			}
			if got := st.Counts["empty_key"]; got != c.empty {
				t.Errorf("empty_key = %d, want %d", got, c.empty)
			}
			if got := st.Counts["removed"]; got != int64(removed) {
				t.Errorf("removed count = %d, want %d", got, removed)
			}
		})
	}
}

// The default options are lowercase, strip_punct and strip_space, not
// digits, comparing the text.
func TestExactDefaults(t *testing.T) {
	docs := xdDocs("Hello, 世界 2023!", "hello世界2023", "HELLO ，世界 2024", "hello 世界 2023。")
	_, out := xdRunJSONL(t, docs, "  - exact_dedup: {}\n")
	xdCheck(t, out, docs, []int{0, 0, 2, 0}, "exact_dedup", "exact_duplicate")
}

// More copies than one band group holds (maxGroup, 4096) still form one
// cluster: every copy names the first, and the kept one stands for all.
func TestExactManyCopies(t *testing.T) {
	const copies = 5000
	var texts []string
	for i := 0; i < copies; i++ {
		texts = append(texts, "同一句话。")
		if i%1000 == 0 {
			texts = append(texts, fmt.Sprintf("第%d句不同的话", i))
		}
	}
	docs := xdDocs(texts...)
	in := xdWriteJSONL(t, docs)
	res, out, err := xdRun(t, "  paths: "+xdYAMLPaths(in)+"\n  format: jsonl\n", "  - exact_dedup: {}\n", 3, 700)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Stats.Stages[0].Dropped["exact_duplicate"].Docs; got != copies-1 {
		t.Errorf("removed %d, want %d", got, copies-1)
	}
	rows := xdRows(t, out)
	first := rows["d0"]
	if !first.kept || first.row["dup_cluster_size"] != int64(copies) || first.row["dup_cluster"] != "d0" {
		t.Errorf("first copy: kept %v, cluster %v size %v; want kept, d0, %d", first.kept, first.row["dup_cluster"], first.row["dup_cluster_size"], copies)
	}
	bad := 0
	for i, d := range docs {
		r := rows[d.ID]
		if i == 0 || d.Text != "同一句话。" {
			continue
		}
		if r.kept || r.row["dup_of"] != "d0" || r.row["dup_cluster_size"] != int64(copies) {
			if bad++; bad <= 3 {
				t.Errorf("%s: kept %v dup_of %v size %v", d.ID, r.kept, r.row["dup_of"], r.row["dup_cluster_size"])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d copies not linked to the first", bad)
	}
}

// xdAlpaca is one Alpaca record with an id.
type xdAlpaca struct {
	ID          string      `json:"id"`
	System      string      `json:"system,omitempty"`
	Instruction string      `json:"instruction"`
	Input       string      `json:"input"`
	Output      string      `json:"output"`
	History     [][2]string `json:"history,omitempty"`
}

// field first_user compares the first user turn (instruction + input),
// last_assistant the last answer; history turns come first in the record.
func TestExactFieldInstruction(t *testing.T) {
	recs := []xdAlpaca{
		{ID: "a0", Instruction: "解释量子纠缠。", Output: "量子纠缠是一种量子现象。"},
		{ID: "a1", Instruction: "解释量子纠缠。", Output: "完全不同的回答。"},
		{ID: "a2", Instruction: "解释量子纠缠", Output: "第三个回答"},
		{ID: "a3", Instruction: "解释量子纠缠。", Input: "用简单的话", Output: "第四个回答"},
		{ID: "a4", Instruction: "写一首诗。", Output: "量子纠缠是一种量子现象！"},
		{ID: "a5", System: "你是一个助手。", Instruction: "解释量子纠缠。", Output: "x"},
		{ID: "a6", Instruction: "继续", History: [][2]string{{"解释量子纠缠。", "x"}}, Output: "y"},
		{ID: "a7", Instruction: "别的问题", History: [][2]string{{"q", "w"}}, Output: "y"},
		{ID: "a8", Instruction: "空回答一", Output: ""},
		{ID: "a9", Instruction: "空回答二", Output: ""},
		{ID: "a10", Instruction: "", Input: "解释量子纠缠。", Output: "只有输入"},
	}
	in := xdWriteJSON(t, recs)
	docs := make([]xdDoc, len(recs))
	for i, r := range recs {
		docs[i] = xdDoc{ID: r.ID, Text: r.Instruction}
	}
	cases := []struct {
		field string
		want  []int
		empty int64
	}{
		{"text", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0},
		{"first_user", []int{0, 0, 0, 3, 4, 0, 0, 7, 8, 9, 0}, 0},
		{"last_assistant", []int{0, 1, 2, 3, 0, 5, 6, 6, 8, 9, 10}, 2},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			res, out, err := xdRun(t, "  paths: "+xdYAMLPaths(in)+"\n  record: alpaca\n", "  - exact_dedup: {field: "+c.field+"}\n", 2, 3)
			if err != nil {
				t.Fatal(err)
			}
			if res.Manifest.Totals.Read != int64(len(recs)) {
				t.Fatalf("read %d records, want %d", res.Manifest.Totals.Read, len(recs))
			}
			xdCheck(t, out, docs, c.want, "exact_dedup", "exact_duplicate")
			if got := res.Stats.Stages[0].Counts["empty_key"]; got != c.empty {
				t.Errorf("empty_key = %d, want %d", got, c.empty)
			}
		})
	}
}

// A field the input cannot have is a config error before any work; a
// column the batch lacks fails the run with an error that names it.
func TestExactFieldConfigErr(t *testing.T) {
	in := xdWriteJSONL(t, xdDocs("一", "二"))
	for _, c := range []struct {
		field string
		want  []string
	}{
		// Known before any work: a config error naming the stage's line.
		{"first_user", []string{"config error", "stages[0].exact_dedup: field: first_user", "instruction data", "alpaca"}},
		{"last_assistant", []string{"config error", "field: last_assistant", "instruction data"}},
		{"title", []string{"field title", "no string column", "columns: id, text"}},
		{"offset", []string{"field offset", "no string column"}}, // an int64 column
	} {
		t.Run(c.field, func(t *testing.T) {
			_, _, err := xdRun(t, "  paths: "+xdYAMLPaths(in)+"\n  format: jsonl\n", "  - exact_dedup: {field: "+c.field+"}\n", 1, 8)
			if err == nil {
				t.Fatalf("field %s on plain records: the run succeeded", c.field)
			}
			t.Logf("error: %v", err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	// A string column other than text is a valid field: here the id.
	docs := []xdDoc{{ID: "same", Text: "一"}, {ID: "same", Text: "二"}}
	res, _ := xdRunJSONL(t, docs, "  - exact_dedup: {field: id}\n")
	if got := res.Stats.Stages[0].Dropped["exact_duplicate"].Docs; got != 1 {
		t.Errorf("field id: removed %d, want 1", got)
	}
}

// xdConfigErr loads stages through LoadConfig and builds them with the
// CLI's registry; it returns the build error.
func xdConfigErr(t *testing.T, stages string) error {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "c.yaml")
	yml := "input:\n  paths: [in]\noutput:\n  dir: out\nstages:\n" + stages
	if err := os.WriteFile(cfgPath, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.LoadConfig(cfgPath)
	if err != nil {
		return err
	}
	_, _, err = cli.NewRegistry().Build(cfg.Stages)
	return err
}

func TestExactConfigErr(t *testing.T) {
	mhMin := strconv.FormatInt(dedup.MinSpillBudget(40), 10)
	exMin := strconv.FormatInt(dedup.MinSpillBudget(1), 10)
	if exMin != "4096" || mhMin != "40960" {
		t.Errorf("MinSpillBudget: 1 band %s, 40 bands %s; want 4096, 40960", exMin, mhMin)
	}
	cases := []struct {
		name   string
		stages string
		want   []string // all in the error; none: no error
	}{
		{"exact keep best", "  - exact_dedup: {keep: best}\n", []string{"c.yaml:", "stages[0].exact_dedup", `keep: "best" is not one of first, longest, quality`}},
		{"minhash keep best", "  - minhash_dedup: {keep: best}\n", []string{"stages[0].minhash_dedup", `keep: "best" is not one of first, longest, quality`}},
		{"exact keep empty", "  - exact_dedup: {keep: \"\"}\n", []string{`keep: "" is not one of first, longest, quality`}},
		{"exact keep longest", "  - exact_dedup: {keep: longest}\n", nil},
		{"minhash keep quality", "  - minhash_dedup: {keep: quality}\n", nil},
		{"exact memory below", "  - exact_dedup: {memory: 4095}\n", []string{"memory: 4095 is below the minimum of " + exMin}},
		{"exact memory minimum", "  - exact_dedup: {memory: " + exMin + "}\n", nil},
		{"exact memory negative", "  - exact_dedup: {memory: -1}\n", []string{"memory: -1"}},
		{"minhash memory below", "  - minhash_dedup: {memory: 40959}\n", []string{"memory: 40959 is below the minimum of " + mhMin + " for 40 bands"}},
		{"minhash memory minimum", "  - minhash_dedup: {memory: " + mhMin + "}\n", nil},
		{"minhash memory for fewer bands", "  - minhash_dedup: {bands: 10, rows: 8, memory: 10240}\n", nil},
		{"threshold 0", "  - minhash_dedup: {threshold: 0}\n", []string{"threshold: 0 is out of range (0, 1]"}},
		{"threshold 1.5", "  - minhash_dedup: {threshold: 1.5}\n", []string{"threshold: 1.5 is out of range (0, 1]"}},
		{"threshold negative", "  - minhash_dedup: {threshold: -0.2}\n", []string{"threshold: -0.2"}},
		{"threshold 1", "  - minhash_dedup: {threshold: 1}\n", nil},
		{"bands 0", "  - minhash_dedup: {bands: 0}\n", []string{"stages[0].minhash_dedup", "bands = 0"}},
		{"rows 0", "  - minhash_dedup: {rows: 0}\n", []string{"rows = 0"}},
		{"bands too many", "  - minhash_dedup: {bands: 2000, rows: 1}\n", []string{"bands = 2000"}},
		{"exact field empty", "  - exact_dedup: {field: \"\"}\n", []string{"field: empty"}},
		{"exact unknown option", "  - exact_dedup: {lowercas: true}\n", []string{"lowercas"}},
		{"second stage named", "  - exact_dedup: {}\n  - minhash_dedup: {threshold: 2}\n", []string{"stages[1].minhash_dedup", "threshold: 2 "}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := xdConfigErr(t, c.stages)
			if c.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", c.want)
			}
			t.Logf("error: %v", err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	// The bands error names the option (as the Go field, MinHashParams.Bands).
	if err := xdConfigErr(t, "  - minhash_dedup: {bands: 0}\n"); err == nil || !strings.Contains(strings.ToLower(err.Error()), "bands") {
		t.Errorf("bands 0: %v", err)
	}
}

// An index that is not there fails the run, naming the path; one built by
// the same stage with other options is refused; one built with the same
// options removes this run's copies of its documents with dup_of their ids.
func TestExactIndexConfigErr(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-run", "index", "exact_dedup")
	a := xdWriteJSONL(t, []xdDoc{{"r1-0", "第一篇文章。"}, {"r1-1", "第二篇文章。"}, {"r1-2", "第一篇文章"}})
	b := xdWriteJSONL(t, []xdDoc{{"r2-0", "第三篇文章。"}, {"r2-1", "第二篇，文章"}, {"r2-2", "第一篇文章！"}, {"r2-3", "第三篇文章"}})
	input := func(p string) string { return "  paths: " + xdYAMLPaths(p) + "\n  format: jsonl\n" }
	for _, stage := range []string{"exact_dedup", "minhash_dedup"} {
		_, _, err := xdRun(t, input(a), "  - "+stage+": {index: "+strconv.Quote(missing)+"}\n", 1, 8)
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("%s with a missing index: error %v, want one naming %s", stage, err, missing)
		}
	}
	_, out1, err := xdRun(t, input(a), "  - exact_dedup: {}\n", 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	idx := filepath.Join(out1, "index", "exact_dedup")
	_, _, err = xdRun(t, input(b), "  - exact_dedup: {lowercase: false, index: "+strconv.Quote(idx)+"}\n", 1, 8)
	if err == nil || !strings.Contains(err.Error(), idx) {
		t.Errorf("index with other options: error %v, want one naming %s", err, idx)
	}
	_, _, err = xdRun(t, input(b), "  - minhash_dedup: {index: "+strconv.Quote(idx)+"}\n", 1, 8)
	if err == nil || !strings.Contains(err.Error(), "cannot match") {
		t.Errorf("minhash over an exact index: error %v", err)
	}
	res, out2, err := xdRun(t, input(b), "  - exact_dedup: {index: "+strconv.Quote(idx)+"}\n", 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	rows := xdRows(t, out2)
	want := map[string]string{"r2-0": "", "r2-1": "r1-1", "r2-2": "r1-0", "r2-3": "r2-0"}
	for id, of := range want {
		r := rows[id]
		got, _ := r.row["dup_of"].(string)
		if got != of || r.kept != (of == "") {
			t.Errorf("%s: kept %v dup_of %q, want dup_of %q", id, r.kept, got, of)
		}
	}
	if c := res.Stats.Stages[0].Counts; c["index_matches"] != 2 || c["index_documents"] != 3 || c["removed"] != 3 {
		t.Errorf("counts %v: want index_matches 2, index_documents 3 (every document run 1 read), removed 3", c)
	}
}

// xdAlpacaFiles are the two Chinese Alpaca variants in the shared corpora,
// relative to zh-sft/alpaca-zh: carbonz0's machine translation and
// hikariming's hand-corrected copy of it.
var xdAlpacaFiles = []string{"carbonz0/zh-data-part-00.json", "hikariming/alpaca_data-0-3252-中文-已完成.json"}

// xdAlpacaText renders a record as the alpaca reader does: the user turn
// (instruction, then input after a blank line) and the output, empty
// contents left out, joined by a blank line.
func xdAlpacaText(instruction, input, output string) string {
	user := instruction
	if input != "" {
		if user != "" {
			user += "\n\n"
		}
		user += input
	}
	var parts []string
	for _, s := range []string{user, output} {
		if s = strings.ReplaceAll(s, "\uFEFF", ""); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "\n\n")
}

// xdExactKey is exact_dedup's default normal form, written independently:
// lowercased, without white space, punctuation or symbols.
func xdExactKey(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.In(r, unicode.White_Space, unicode.P, unicode.S) {
			return -1
		}
		return r
	}, strings.ToLower(s))
}

// xdUnits is the text as minhash_dedup's character units: letters and
// numbers, fullwidth ASCII folded, lowercased, every digit '0'.
func xdUnits(s string) []rune {
	var units []rune
	for _, r := range s {
		if r >= 0xFF01 && r <= 0xFF5E {
			r -= 0xFEE0
		}
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) {
			continue
		}
		if unicode.IsDigit(r) {
			r = '0'
		}
		units = append(units, unicode.ToLower(r))
	}
	return units
}

// xdJaccard5 is the exact Jaccard similarity of two unit lists' 5-gram sets.
func xdJaccard5(a, b []rune) float64 {
	grams := func(u []rune) map[string]bool {
		m := map[string]bool{}
		for i := 0; i+5 <= len(u); i++ {
			m[string(u[i:i+5])] = true
		}
		return m
	}
	ga, gb := grams(a), grams(b)
	inter := 0
	for g := range ga {
		if gb[g] {
			inter++
		}
	}
	if union := len(ga) + len(gb) - inter; union > 0 {
		return float64(inter) / float64(union)
	}
	return 0
}

func xdHanShare(u []rune) float64 {
	han := 0
	for _, r := range u {
		if unicode.Is(unicode.Han, r) {
			han++
		}
	}
	return float64(han) / float64(max(len(u), 1))
}

// Both Chinese Alpaca variants through exact_dedup then minhash_dedup: the
// exact removals are exactly what a brute-force count over the same
// records finds (the 3,126 byte-identical pairs and no fewer), each names
// the first record with its normal form, and every edited pair that is
// clearly near-identical (character 5-gram Jaccard ≥ 0.8) ends up in one
// near-duplicate cluster, and none with Jaccard below 0.5 does.
func TestExactAlpacaVariants(t *testing.T) {
	if testing.Short() {
		t.Skip("reads ~2 MB of shared corpora")
	}
	root := filepath.Join(testenv.SharedCorpora(t), "zh-sft", "alpaca-zh")
	type rec struct{ Instruction, Input, Output string }
	var paths []string
	var texts [][]string // per file, per record
	fileOf := map[string]int{}
	for i, f := range xdAlpacaFiles {
		p := filepath.Join(root, f)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Skipf("alpaca-zh variant missing: %v", err)
		}
		var recs []rec
		if err := json.Unmarshal(data, &recs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var ts []string
		for _, r := range recs {
			ts = append(ts, xdAlpacaText(r.Instruction, r.Input, r.Output))
		}
		paths = append(paths, p)
		texts = append(texts, ts)
		fileOf[filepath.Base(p)] = i
	}

	// Brute force: the first record of each normal form, in input order.
	type ref struct{ file, rec int }
	firstOf := map[string]ref{}
	exactOf := map[ref]ref{} // removed record → the record it duplicates
	var empty int64
	for fi, ts := range texts {
		for ri, s := range ts {
			k := xdExactKey(s)
			if k == "" {
				empty++
				continue
			}
			if f, ok := firstOf[k]; ok {
				exactOf[ref{fi, ri}] = f
			} else {
				firstOf[k] = ref{fi, ri}
			}
		}
	}

	// aligned.tsv: the identical and the edited pairs, by en_id.
	identical := 0
	byEn := map[string][2]int{} // en_id → variant_index in each file (-1: none)
	if data, err := os.ReadFile(filepath.Join(root, "aligned.tsv")); err == nil {
		for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
			f := strings.Split(line, "\t")
			if i == 0 || len(f) < 5 {
				continue
			}
			fi := slices.Index(xdAlpacaFiles, f[0])
			idx, err := strconv.Atoi(f[1])
			if fi < 0 || err != nil {
				t.Fatalf("aligned.tsv line %d: %q", i+1, line)
			}
			p, ok := byEn[f[2]]
			if !ok {
				p = [2]int{-1, -1}
			}
			p[fi] = idx
			byEn[f[2]] = p
			if f[4] == "identical" && fi == 0 {
				identical++
			}
		}
	} else {
		t.Logf("no aligned.tsv: %v", err)
	}

	res, out, err := xdRun(t, "  paths: "+xdYAMLPaths(paths...)+"\n  record: alpaca\n",
		"  - exact_dedup: {}\n  - minhash_dedup: {}\n", 2, 512)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(len(texts[0]) + len(texts[1]))
	if tot := res.Manifest.Totals; tot.Read != total || tot.Quarantined != 0 || tot.Kept+tot.Rejected != total {
		t.Fatalf("totals %+v, want %d read, none quarantined", tot, total)
	}
	ex, mh := res.Stats.Stages[0], res.Stats.Stages[1]
	exactRemoved, nearRemoved := ex.Dropped["exact_duplicate"].Docs, mh.Dropped["near_duplicate"].Docs

	// Every output row, by (file, record).
	rows := map[ref]map[string]any{}
	idOf := map[ref]string{}
	for _, dir := range []string{"shards", "rejected"} {
		for _, r := range testenv.ReadRows(t, filepath.Join(out, dir)) {
			fi, ok := fileOf[r["source"].(string)]
			if !ok {
				t.Fatalf("row from unexpected source %v", r["source"])
			}
			k := ref{fi, int(r["offset"].(int64))}
			rows[k] = r
			idOf[k] = r["id"].(string)
		}
	}
	if int64(len(rows)) != total {
		t.Fatalf("%d distinct rows, want %d", len(rows), total)
	}
	var gotExact int64
	for k, r := range rows {
		if r["drop_stage"] != "exact_dedup" {
			continue
		}
		gotExact++
		f, ok := exactOf[k]
		if !ok {
			t.Errorf("record %v removed as an exact duplicate, but its normal form is unique: %.60q", k, texts[k.file][k.rec])
		} else if r["dup_of"] != idOf[f] {
			t.Errorf("record %v: dup_of %v, want %v (record %v)", k, r["dup_of"], idOf[f], f)
		}
	}
	if gotExact != int64(len(exactOf)) || exactRemoved != gotExact {
		t.Errorf("exact: removed %d (stats %d), brute force %d", gotExact, exactRemoved, len(exactOf))
	}
	if ex.Counts["empty_key"] != empty {
		t.Errorf("empty_key %d, brute force %d", ex.Counts["empty_key"], empty)
	}
	if identical > 0 && len(exactOf) < identical {
		t.Errorf("brute force finds %d exact duplicates, fewer than the %d identical pairs of aligned.tsv", len(exactOf), identical)
	}

	// Edited pairs both alive after exact_dedup, Han text of at least 39
	// units (so the 5-unit character shingles apply). At Jaccard ≥ 0.8 the
	// 40×8 bands make a candidate with P = 1−(1−0.8^8)^40 > 0.999 and the
	// 320-value estimate (std ≈ 0.022) passes 0.7 verification all but
	// always; below 0.5 verification passes with P < 1e-12.
	nearKeeper := func(k ref) string {
		if r := rows[k]; r["drop_stage"] == "minhash_dedup" {
			return r["dup_of"].(string)
		}
		return idOf[k]
	}
	var edited, eligible, linked, linkedAny int
	for en, p := range byEn {
		if p[0] < 0 || p[1] < 0 {
			continue
		}
		a, b := ref{0, p[0]}, ref{1, p[1]}
		if rows[a]["drop_stage"] == "exact_dedup" || rows[b]["drop_stage"] == "exact_dedup" {
			continue
		}
		edited++
		same := nearKeeper(a) == nearKeeper(b)
		if same {
			linkedAny++
		}
		ua, ub := xdUnits(texts[0][a.rec]), xdUnits(texts[1][b.rec])
		if len(ua) < 39 || len(ub) < 39 || xdHanShare(ua) < 0.6 || xdHanShare(ub) < 0.6 {
			continue
		}
		switch j := xdJaccard5(ua, ub); {
		case j >= 0.8:
			eligible++
			if same {
				linked++
			} else {
				t.Errorf("en_id %s: Jaccard %.3f, but not one near-duplicate cluster (%s, %s)", en, j, nearKeeper(a), nearKeeper(b))
			}
		case j < 0.5 && same:
			t.Errorf("en_id %s: Jaccard %.3f, yet one near-duplicate cluster (%s)", en, j, nearKeeper(a))
		}
	}
	if nearRemoved < int64(eligible) {
		t.Errorf("minhash removed %d, fewer than the %d disjoint pairs with Jaccard ≥ 0.8", nearRemoved, eligible)
	}
	keys := slices.SortedFunc(maps.Keys(rows), func(a, b ref) int { return cmp.Or(a.file-b.file, a.rec-b.rec) })
	for _, k := range keys {
		if r := rows[k]; r["drop_stage"] == "minhash_dedup" {
			t.Logf("near duplicate %v of %v: %.50q", k, r["dup_of"], texts[k.file][k.rec])
		}
	}
	t.Logf("alpaca-zh: %d records (%d + %d); exact: %d removed (brute force %d, aligned.tsv identical pairs %d, empty keys %d); "+
		"near: %d removed (clusters %d, candidate pairs %d, verified %d); edited pairs alive after exact %d, linked %d, with J ≥ 0.8 %d (linked %d); kept %d",
		total, len(texts[0]), len(texts[1]), exactRemoved, len(exactOf), identical, empty,
		nearRemoved, mh.Counts["clusters"], mh.Counts["candidate_pairs"], mh.Counts["verified_pairs"], edited, linkedAny, eligible, linked, res.Manifest.Totals.Kept)
}
