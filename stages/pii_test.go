package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// newTestPII builds the stage from the defaults changed by edit, built on
// piiTestNow.
func newTestPII(t testing.TB, edit func(*PIIOptions)) *PII {
	t.Helper()
	o := *PIIInfo.Defaults().(*PIIOptions)
	if edit != nil {
		edit(&o)
	}
	p, err := newPII(o, "test", piiTestNow)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// piiMinCases is the least number of positive and negative cases each type
// must have in the tables.
var piiMinCases = [piiKinds]int{
	piiEmail: 15, piiIP: 15, piiURLCred: 15, piiPassport: 15,
	piiCNMobile: 50, piiCNPhone: 50, piiCNID: 50, piiBankCard: 50,
}

// TestPIITables runs the scanner over every case of the tables and scores
// each type: a match counts as a true positive only with the expected type
// and exact span. It reports precision and recall per type and requires
// every case to come out as written.
func TestPIITables(t *testing.T) {
	p := newTestPII(t, nil)
	cases := piiAllCases(t)
	var tp, fp, fn, pos, neg [piiKinds]int
	for _, c := range cases {
		if c.positive() {
			pos[c.kind]++
		} else {
			neg[c.kind]++
		}
		got := piiSpans(p, c.text)
		for _, m := range got {
			if slices.Contains(c.want, m) {
				tp[m.kind]++
			} else {
				fp[m.kind]++
			}
		}
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				fn[w.kind]++
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %q\n  got  %s\n  want %s", c.from, c.text, piiDescribe(c.text, got), piiDescribe(c.text, c.want))
		}
	}
	t.Logf("%-10s %5s %5s %5s %5s %5s %9s %7s", "type", "pos", "neg", "TP", "FP", "FN", "precision", "recall")
	for k := range piiKinds {
		prec, rec := 1.0, 1.0
		if tp[k]+fp[k] > 0 {
			prec = float64(tp[k]) / float64(tp[k]+fp[k])
		}
		if tp[k]+fn[k] > 0 {
			rec = float64(tp[k]) / float64(tp[k]+fn[k])
		}
		t.Logf("%-10s %5d %5d %5d %5d %5d %9.3f %7.3f", k, pos[k], neg[k], tp[k], fp[k], fn[k], prec, rec)
		if pos[k] < piiMinCases[k] || neg[k] < piiMinCases[k] {
			t.Errorf("%s: %d positive and %d negative cases, want at least %d each", k, pos[k], neg[k], piiMinCases[k])
		}
	}
}

func piiDescribe(s string, ms []piiMatch) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%s%q", m.kind, s[m.start:m.end]))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// TestPIIRedact checks whole outputs: placeholders, the URL host kept,
// custom placeholders, the second round and idempotence on every case.
func TestPIIRedact(t *testing.T) {
	p := newTestPII(t, nil)
	for _, c := range []struct{ in, want string }{
		{"联系电话：13800138000，邮箱zhangsan@163.com。", "联系电话：<CN_MOBILE>，邮箱<EMAIL>。"},
		{"身份证号" + piiExpand("{id:11010519491231002}") + "，卡号" + piiExpand("{luhn:6222 0212 3456 789}"), "身份证号<CN_ID>，卡号<BANK_CARD>"},
		{"mysql://root:123456@db.example.com:3306/app", "mysql://<URL_CRED>@db.example.com:3306/app"},
		{"护照号E12345678，电话(0755)26541234", "护照号<PASSPORT>，电话<CN_PHONE>"},
		{"DNS 8.8.8.8 与 2001:4860:4860::8888", "DNS <IP> 与 <IP>"},
		// The phone is joined to the address by '-' (not a phone), until the
		// address is a placeholder: the second round finds it.
		{"61.135.169.121-13800138000", "<IP>-<CN_MOBILE>"},
		{"nothing here 2023-11-29", "nothing here 2023-11-29"},
	} {
		var counts [piiKinds]int32
		if got := p.redact(c.in, &counts); got != c.want {
			t.Errorf("redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	custom := newTestPII(t, func(o *PIIOptions) {
		o.Placeholders = map[string]string{"cn_mobile": "[手机号]", "email": "***"}
	})
	var counts [piiKinds]int32
	if got := custom.redact("13800138000 a@b.cn 61.135.169.121", &counts); got != "[手机号] *** <IP>" {
		t.Errorf("custom placeholders: %q", got)
	}
	if counts[piiCNMobile] != 1 || counts[piiEmail] != 1 || counts[piiIP] != 1 {
		t.Errorf("custom placeholders: counts %v", counts)
	}
	only := newTestPII(t, func(o *PIIOptions) { o.Types = []string{"email"} })
	if got := only.redact("13800138000 a@b.cn", &counts); got != "13800138000 <EMAIL>" {
		t.Errorf("types [email]: %q", got)
	}
	for _, c := range piiAllCases(t) {
		var n [piiKinds]int32
		once := p.redact(c.text, &n)
		if twice := p.redact(once, &n); twice != once {
			t.Errorf("%s: not idempotent: %q -> %q -> %q", c.from, c.text, once, twice)
		}
	}
}

// TestPIINoMatchNoAlloc: text without PII comes back as the same string,
// without allocating.
func TestPIINoMatchNoAlloc(t *testing.T) {
	p := newTestPII(t, nil)
	texts := []string{
		"第一条 为了保护公民、法人和其他组织的合法权益，根据宪法，制定本法。本法自2021年1月1日起施行，第138条、第1380013800号。",
		"Chrome 120.0.6099.109 on 192.168.1.1, time 12:30:45, std::vector, v1.2.3.4, user@localhost, https://example.com/a@b",
		"订单号 2023112912345678901，时间戳 1700000000000，¥13800138000.00，ISBN 978-7-115-13800-1",
	}
	for _, s := range texts {
		var counts [piiKinds]int32
		allocs := testing.AllocsPerRun(100, func() {
			if r := p.redact(s, &counts); unsafe.StringData(r) != unsafe.StringData(s) {
				t.Fatalf("a new string for %q", s)
			}
		})
		if allocs != 0 {
			t.Errorf("%.0f allocations for %q", allocs, s)
		}
		if counts != [piiKinds]int32{} {
			t.Errorf("matches in %q: %v", s, counts)
		}
	}
}

func TestPIIOptionErrors(t *testing.T) {
	for _, c := range []struct {
		edit func(*PIIOptions)
		want string
	}{
		{func(o *PIIOptions) { o.Mode = "mask" }, `test.mode: "mask" is not one of redact, tag`},
		{func(o *PIIOptions) { o.Types = []string{"phone"} }, `test.types: "phone" is not one of email, ip, url_cred, cn_mobile, cn_phone, cn_id, bank_card, passport`},
		{func(o *PIIOptions) { o.Types = []string{"email", "email"} }, `test.types: "email" listed twice`},
		{func(o *PIIOptions) { o.Types = nil }, `test.types: empty`},
		{func(o *PIIOptions) { o.Placeholders = map[string]string{"ipv4": "<X>"} }, `test.placeholders: "ipv4" is not one of`},
		{func(o *PIIOptions) { o.Placeholders = map[string]string{"email": ""} }, `test.placeholders.email: "" must be 1-64 bytes`},
		{func(o *PIIOptions) { o.Placeholders = map[string]string{"email": "<MAIL1>"} }, `must hold no ASCII digit`},
		{func(o *PIIOptions) { o.Placeholders = map[string]string{"email": "EMAIL"} }, `must start and end with`},
		{func(o *PIIOptions) { o.Placeholders = map[string]string{"email": "<a@b.cn>"} }, `holds a email itself`},
	} {
		o := *PIIInfo.Defaults().(*PIIOptions)
		c.edit(&o)
		_, err := newPII(o, "test", piiTestNow)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want it to contain %q", err, c.want)
		}
	}
	// Every mistake is reported at once.
	_, err := newPII(PIIOptions{Types: []string{"email", "phone"}, Mode: "mask", Placeholders: map[string]string{"ipv4": "x"}}, "f.yaml:4: stages[0].pii", piiTestNow)
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("want three errors, got %v", err)
	}
}

// piiCountsOf reads row i of the pii_counts column (nil when null).
func piiCountsOf(t *testing.T, col arrow.Array, i int) map[string]int32 {
	t.Helper()
	m, ok := col.(*array.Map)
	if !ok {
		t.Fatalf("pii_counts is %T", col)
	}
	if m.IsNull(i) {
		return nil
	}
	keys, items := m.Keys().(*array.String), m.Items().(*array.Int32)
	start, end := m.ValueOffsets(i)
	out := map[string]int32{}
	for j := start; j < end; j++ {
		out[keys.Value(int(j))] = items.Value(int(j))
	}
	return out
}

// TestPIIProcess checks the text column, pii_counts, that dropped rows are
// untouched and that every Arrow buffer is released (the counters, which
// only the engine reads, are checked by TestPIIRun).
func TestPIIProcess(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	id := piiExpand("{id:44030419900307123}")
	texts := []string{
		"联系电话：13800138000，备用138-0013-8001。",
		"没有个人信息的一段话。",
		"身份证号" + id + "，邮箱a@b.cn",
		"dropped before pii: 13800138000",
		"",
	}
	docs := make([]pipeline.Doc, len(texts))
	sources := make([]string, len(texts))
	for i, s := range texts {
		docs[i] = pipeline.Doc{Text: s, Offset: int64(i)}
		sources[i] = "test.jsonl"
	}
	b := pipeline.NewBatch(mem, 0, docs, sources, false)
	defer b.Release()
	b.Drop(3, "length", "length.chars<100")
	st, err := newPII(*PIIInfo.Defaults().(*PIIOptions), "test", piiTestNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"联系电话：<CN_MOBILE>，备用<CN_MOBILE>。",
		"没有个人信息的一段话。",
		"身份证号<CN_ID>，邮箱<EMAIL>",
		"dropped before pii: 13800138000",
		"",
	}
	col := b.Texts()
	for i, w := range want {
		if got := col.Value(i); got != w {
			t.Errorf("row %d: text %q, want %q", i, got, w)
		}
	}
	wantCounts := []map[string]int32{
		{"cn_mobile": 2}, {}, {"cn_id": 1, "email": 1}, nil, {},
	}
	pc := b.Column("pii_counts")
	if pc == nil {
		t.Fatal("no pii_counts column")
	}
	if !arrow.TypeEqual(pc.DataType(), piiCountsType) {
		t.Errorf("pii_counts type %s", pc.DataType())
	}
	for i, w := range wantCounts {
		got := piiCountsOf(t, pc, i)
		if (got == nil) != (w == nil) || fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("row %d: pii_counts %v, want %v", i, got, w)
		}
	}
	if d := b.DropOf(3); d.Stage != "length" {
		t.Errorf("row 3 drop %+v", d)
	}

	// Nothing to redact: the text column stays the same array.
	b2 := pipeline.NewBatch(mem, 1, docs[1:2], sources[1:2], false)
	defer b2.Release()
	before := b2.Texts()
	if err := st.Process(context.Background(), b2); err != nil {
		t.Fatal(err)
	}
	if b2.Texts() != before {
		t.Errorf("text column rebuilt without a change")
	}

	// Tag mode: same counts, text kept.
	tag := newTestPII(t, func(o *PIIOptions) { o.Mode = "tag" })
	b3 := pipeline.NewBatch(mem, 2, docs, sources, false)
	defer b3.Release()
	if err := tag.Process(context.Background(), b3); err != nil {
		t.Fatal(err)
	}
	for i, s := range texts {
		if got := b3.Texts().Value(i); got != s {
			t.Errorf("tag mode changed row %d: %q", i, got)
		}
	}
	if got := piiCountsOf(t, b3.Column("pii_counts"), 3); fmt.Sprint(got) != "map[cn_mobile:1]" {
		t.Errorf("tag mode, all rows alive: row 3 counts %v", got)
	}

	// The same stage again replaces pii_counts, it does not add a column.
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if n := len(b.Fields()); n != 5 {
		t.Errorf("%d columns after two runs, want 4 core + pii_counts", n)
	}
}

// TestPIIProcessMessages: instruction data gets its message contents
// redacted, roles and null rows kept, dropped rows untouched.
func TestPIIProcessMessages(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	docs := []pipeline.Doc{
		{Messages: []pipeline.Message{{Role: "user", Content: "我的手机是13800138000"}, {Role: "assistant", Content: "好的，已记录。"}}},
		{Messages: []pipeline.Message{{Role: "user", Content: "邮箱a@b.cn"}}},
		{Messages: []pipeline.Message{{Role: "user", Content: "no pii"}}},
		{},
	}
	for i := range docs {
		docs[i].Text = renderMessages(docs[i].Messages)
		docs[i].Offset = int64(i)
	}
	b := pipeline.NewBatch(mem, 0, docs, []string{"a", "a", "a", "a"}, true)
	defer b.Release()
	b.Drop(1, "x", "x")
	if err := newTestPII(t, nil).Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	list := b.Column(pipeline.ColMessages).(*array.List)
	st := list.ListValues().(*array.Struct)
	roles, contents := st.Field(0).(*array.String), st.Field(1).(*array.String)
	var got []string
	for i := 0; i < list.Len(); i++ {
		if list.IsNull(i) {
			got = append(got, "null")
			continue
		}
		start, end := list.ValueOffsets(i)
		for e := start; e < end; e++ {
			got = append(got, roles.Value(int(e))+":"+contents.Value(int(e)))
		}
	}
	want := []string{"user:我的手机是<CN_MOBILE>", "assistant:好的，已记录。", "user:邮箱a@b.cn", "user:no pii", "null"}
	if !slices.Equal(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
	if txt := b.Texts().Value(0); txt != "我的手机是<CN_MOBILE>\n\n好的，已记录。" {
		t.Errorf("text %q", txt)
	}
	if !arrow.TypeEqual(list.DataType(), pipeline.MessagesType) {
		t.Errorf("messages type %s", list.DataType())
	}
}

// TestPIIRun runs the stage through the engine after a normalize that
// drops one row: options from YAML, the counters in stats, pii_counts (a
// map column) written to Parquet and read back, and the dropped row in
// rejected/ with its text untouched and pii_counts null.
func TestPIIRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.MkdirAll(in, 0o755)
	lines := []string{
		`{"text": "联系电话：13800138000，邮箱zhangsan@163.com"}`,
		`{"text": "没有个人信息"}`,
		`{"text": "锟斤拷锟斤拷锟斤拷 13800138000"}`,
		`{"text": "服务器 8.8.8.8 和 2001:4860:4860::8888"}`,
	}
	if err := os.WriteFile(filepath.Join(in, "docs.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cfgYAML := "input:\n  paths: [" + in + "]\noutput:\n  dir: " + out + "\n  keep_rejected: true\n" +
		"stages:\n  - normalize: {mojibake_drop: 0.5, t2s: off}\n" +
		"  - pii: {types: [email, ip, cn_mobile], placeholders: {ip: '[IP]'}}\n"
	cfg, err := pipeline.ParseConfig([]byte(cfgYAML), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg := pipeline.NewRegistry()
	reg.NewReader = NewFileReader
	reg.Register(NormalizeInfo)
	reg.Register(PIIInfo)
	res, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	counts := piiStageCounts(t, res.Stats)
	wantC := map[string]int64{"cn_mobile": 1, "email": 1, "ip": 2, "docs_pii": 2, "docs_changed": 2}
	if fmt.Sprint(counts) != fmt.Sprint(wantC) {
		t.Errorf("counters %v, want %v", counts, wantC)
	}
	rows := testenv.ReadRows(t, filepath.Join(out, "shards"))
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	wantText := []string{"联系电话：<CN_MOBILE>，邮箱<EMAIL>", "没有个人信息", "服务器 [IP] 和 [IP]"}
	wantCounts := []string{`[{"key":"email","value":1},{"key":"cn_mobile","value":1}]`, `[]`, `[{"key":"ip","value":2}]`}
	for i, r := range rows {
		if r["text"] != wantText[i] {
			t.Errorf("row %d: text %v", i, r["text"])
		}
		if got := piiMarshal(r["pii_counts"]); got != wantCounts[i] {
			t.Errorf("row %d: pii_counts %s, want %s", i, got, wantCounts[i])
		}
	}
	rej := testenv.ReadRows(t, filepath.Join(out, "rejected"))
	if len(rej) != 1 || rej[0]["text"] != "锟斤拷锟斤拷锟斤拷 13800138000" || rej[0]["pii_counts"] != nil {
		t.Errorf("rejected rows %v, want the 锟斤拷 row untouched with null pii_counts", rej)
	}
}

// piiStageCounts returns the pii stage's counters from a run's stats.
func piiStageCounts(t *testing.T, st *pipeline.Stats) map[string]int64 {
	t.Helper()
	for _, s := range st.Stages {
		if s.Name == "pii" {
			return s.Counts
		}
	}
	t.Fatalf("no pii stats in %+v", st.Stages)
	return nil
}

// piiMarshal renders a value ReadRows returned as JSON.
func piiMarshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("!%v", err)
	}
	return string(b)
}

// TestPIIRunMessages: ShareGPT records through the engine; the redacted
// messages column reaches the shard.
func TestPIIRunMessages(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.MkdirAll(in, 0o755)
	rec := `{"conversations": [{"from": "human", "value": "我的邮箱是li@example.com"}, {"from": "gpt", "value": "收到"}]}`
	if err := os.WriteFile(filepath.Join(in, "chat.jsonl"), []byte(rec+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cfgYAML := "input:\n  paths: [" + in + "]\n  record: sharegpt\noutput:\n  dir: " + out + "\nstages:\n  - pii: {}\n"
	cfg, err := pipeline.ParseConfig([]byte(cfgYAML), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg := pipeline.NewRegistry()
	reg.NewReader = NewFileReader
	reg.Register(PIIInfo)
	res, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if c := piiStageCounts(t, res.Stats); c["messages_changed"] != 1 || c["docs_changed"] != 1 || c["email"] != 1 {
		t.Errorf("counters %v", c)
	}
	rows := testenv.ReadRows(t, filepath.Join(out, "shards"))
	if len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	if got := piiMarshal(rows[0]["messages"]); !strings.Contains(got, "我的邮箱是\\u003cEMAIL\\u003e") && !strings.Contains(got, "我的邮箱是<EMAIL>") {
		t.Errorf("messages %s", got)
	}
	if rows[0]["text"] != "我的邮箱是<EMAIL>\n\n收到" {
		t.Errorf("text %q", rows[0]["text"])
	}
}

// TestPIIParseIPv6 compares the allocation-free parser with net/netip.
func TestPIIParseIPv6(t *testing.T) {
	for _, s := range []string{
		"::", "::1", "1::", "2001:db8::1", "2001:4860:4860::8888", "2001:0db8:0000:0000:0000:ff00:0042:8329",
		"::ffff:1.2.3.4", "64:ff9b::192.0.2.33", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
		"1:2:3:4:5:6:1.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "1:2:3:4:5:6:7", ":1::", "1:", ":",
		"1.2.3.4", "::1.2.3", "::01.2.3.4", "::256.1.1.1", "fe80::1", "FE80::ABCD", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
		"1::1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "g::1", "",
	} {
		a, err := netip.ParseAddr(s)
		wantOK := err == nil && a.Is6() && a.Zone() == ""
		ip, ok := piiParseIPv6(s)
		if ok != wantOK || ok && ip != a.As16() {
			t.Errorf("piiParseIPv6(%q) = %v %v, netip: %v %v", s, ip, ok, a, err)
		}
	}
}

func TestPIIIDCheckDigit(t *testing.T) {
	// GB 11643-1999's own example and a well-known X.
	for _, c := range []struct{ body, check string }{
		{"11010519491231002", "X"},
		{"44052418800101001", "4"},
	} {
		if got := string(piiIDCheckDigit(c.body)); got != c.check {
			t.Errorf("check digit of %s = %s, want %s", c.body, got, c.check)
		}
	}
	if !piiLuhn([]byte("4111111111111111")) || piiLuhn([]byte("4111111111111112")) {
		t.Errorf("Luhn")
	}
}
