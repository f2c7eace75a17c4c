package stages

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"winnow/pipeline"
)

func TestNewFileReaderValidates(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*pipeline.InputConfig)
		wantErr string
	}{
		{"defaults", nil, ""},
		{"zero config takes defaults", func(c *pipeline.InputConfig) { *c = pipeline.InputConfig{} }, ""},
		{"format", func(c *pipeline.InputConfig) { c.Format = "xml" }, `input.format "xml" is not one of`},
		{"record", func(c *pipeline.InputConfig) { c.Record = "dolly" }, `input.record "dolly"`},
		{"encoding", func(c *pipeline.InputConfig) { c.Encoding = "latin1" }, `input.encoding "latin1"`},
		{"encoding alias", func(c *pipeline.InputConfig) { c.Encoding = "UTF8" }, ""},
		{"text_split", func(c *pipeline.InputConfig) { c.TextSplit = "sentence" }, `input.text_split "sentence"`},
		{"max_doc_bytes", func(c *pipeline.InputConfig) { c.MaxDocBytes = -1 }, "max_doc_bytes -1"},
		{"template ok", func(c *pipeline.InputConfig) { c.TextTemplate = `{title}\n\n{body}` }, ""},
		{"template unclosed", func(c *pipeline.InputConfig) { c.TextTemplate = "{title" }, "is not closed"},
		{"template format spec", func(c *pipeline.InputConfig) { c.TextTemplate = "{x:>10}" }, "only {field} is allowed"},
		{"template jinja", func(c *pipeline.InputConfig) { c.TextTemplate = "{{x}}" }, "placeholder"},
		{"template stray brace", func(c *pipeline.InputConfig) { c.TextTemplate = "{a}}" }, "without '{'"},
		{"template empty name", func(c *pipeline.InputConfig) { c.TextTemplate = "{} {a}" }, "empty field name"},
		{"template bad escape", func(c *pipeline.InputConfig) { c.TextTemplate = `{a}\x` }, `unknown escape \x`},
		{"template no field", func(c *pipeline.InputConfig) { c.TextTemplate = "text" }, "no {field}"},
		{"template with preset", func(c *pipeline.InputConfig) { c.TextTemplate = "{a}"; c.Record = "alpaca" }, "plain records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFileReader(testConfig(tt.mod))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestReadCases covers format choice, compression and the bad-input kinds
// on small inputs.
func TestReadCases(t *testing.T) {
	small := func(c *pipeline.InputConfig) { c.MaxDocBytes = 64 }
	tests := []struct {
		name  string
		mod   func(*pipeline.InputConfig)
		file  string
		data  string
		texts []string
		offs  []int64
		bad   []string
	}{
		{name: "jsonl", file: "a.jsonl", data: "{\"text\":\"一\"}\n\n{\"text\":\"二\"}\n",
			texts: []string{"一", "二"}, offs: []int64{1, 3}},
		{name: "ndjson crlf no final newline", file: "a.ndjson", data: "{\"text\":\"一\"}\r\n{\"text\":\"二\"}",
			texts: []string{"一", "二"}, offs: []int64{1, 2}},
		{name: "jsonl bom and bom inside values", file: "a.jsonl", data: "\uFEFF{\"text\":\"a\uFEFFb\"}\n\uFEFF{\"text\":\"c\"}\n",
			texts: []string{"ab", "c"}, offs: []int64{1, 2}},
		{name: "jsonl malformed line goes on", file: "a.jsonl", data: "{\"text\":\"一\"}\n{\"text\":\n{\"text\":\"三\"}\n",
			texts: []string{"一", "三"}, offs: []int64{1, 3}, bad: []string{pipeline.BadMalformed}},
		{name: "jsonl cut last line", file: "a.jsonl", data: "{\"text\":\"一\"}\n{\"text\":\"二",
			texts: []string{"一"}, bad: []string{pipeline.BadTruncated}},
		{name: "jsonl not an object", file: "a.jsonl", data: "[1,2]\n\"s\"\n",
			bad: []string{pipeline.BadMalformed, pipeline.BadMalformed}},
		{name: "jsonl missing and empty text", file: "a.jsonl", data: "{\"body\":\"x\"}\n{\"text\":3}\n{\"text\":\" \\n\"}\n{\"text\":null}\n",
			bad: []string{pipeline.BadMissingText, pipeline.BadMissingText, pipeline.BadEmptyText, pipeline.BadMissingText}},
		{name: "jsonl invalid utf-8", file: "a.jsonl", data: "{\"text\":\"\xff\xfe\"}\n{\"text\":\"ok\"}\n",
			texts: []string{"ok"}, bad: []string{pipeline.BadEncoding}},
		{name: "jsonl too large line", mod: small, file: "a.jsonl", data: "{\"text\":\"" + strings.Repeat("长", 40) + "\"}\n{\"text\":\"ok\"}\n",
			texts: []string{"ok"}, offs: []int64{2}, bad: []string{pipeline.BadTooLarge}},
		{name: "json array", file: "a.json", data: " [ {\"text\":\"一\"} , {\"text\":\"二\"}\n]\n",
			texts: []string{"一", "二"}, offs: []int64{0, 1}},
		{name: "json array bad element goes on", file: "a.json", data: `[{"text":"一"}, {"text": tru}, 7, {"text":"四"}]`,
			texts: []string{"一", "四"}, offs: []int64{0, 3}, bad: []string{pipeline.BadMalformed, pipeline.BadMalformed}},
		{name: "json array truncated", file: "a.json", data: `[{"text":"一"}, {"text":"二`,
			texts: []string{"一"}, bad: []string{pipeline.BadTruncated}},
		{name: "json array cut between elements", file: "a.json", data: `[{"text":"一"}, `,
			texts: []string{"一"}, bad: []string{pipeline.BadTruncated}},
		{name: "json array trailing data", file: "a.json", data: `[{"text":"一"}] {"text":"x"}`,
			texts: []string{"一"}, bad: []string{pipeline.BadMalformed}},
		{name: "json array escapes and nesting", file: "a.json", data: `[{"text":"a\"]}\\","meta":{"x":[1,{"y":"}"}]}}]`,
			texts: []string{"a\"]}\\"}},
		{name: "json array element too large", mod: small, file: "a.json", data: `[{"text":"` + strings.Repeat("x", 100) + `"},{"text":"ok"}]`,
			texts: []string{"ok"}, offs: []int64{1}, bad: []string{pipeline.BadTooLarge}},
		{name: "json empty array", file: "a.json", data: "[ ]", bad: []string{pipeline.BadEmptyFile}},
		{name: "json named jsonl", file: "a.json", data: "{\"text\":\"一\"}\n{\"text\":\"二\"}\n",
			texts: []string{"一", "二"}, offs: []int64{1, 2}},
		{name: "json single pretty object", file: "a.json", data: "{\n  \"text\": \"一\",\n  \"id\": 5\n}\n",
			texts: []string{"一"}, offs: []int64{0}},
		{name: "json single object not a record", file: "a.json", data: "{\n  \"version\": \"1\",\n  \"data\": []\n}\n",
			bad: []string{pipeline.BadMissingText}},
		{name: "json scalar", file: "a.json", data: "42\n", bad: []string{pipeline.BadMalformed}},
		{name: "txt holding jsonl stays text", file: "a.txt", data: "{\"text\":\"一\"}\n",
			texts: []string{"{\"text\":\"一\"}"}, offs: []int64{0}},
		{name: "no extension is text", file: "README", data: "hello\r\n\r\n",
			texts: []string{"hello"}},
		{name: "md is text", file: "a.md", data: "# 标题\n\n正文\n", texts: []string{"# 标题\n\n正文"}},
		{name: "text too large", mod: small, file: "a.txt", data: strings.Repeat("字", 30), bad: []string{pipeline.BadTooLarge}},
		{name: "text lines", mod: func(c *pipeline.InputConfig) { c.TextSplit = "line" }, file: "a.txt",
			data: "一 \n\n  \n\u3000\n二\r\n三", texts: []string{"一 ", "二", "三"}, offs: []int64{1, 5, 6}},
		{name: "text lines too large", mod: func(c *pipeline.InputConfig) { c.TextSplit = "line"; c.MaxDocBytes = 8 }, file: "a.txt",
			data: "一\n" + strings.Repeat("x", 20) + "\n二\n", texts: []string{"一", "二"}, offs: []int64{1, 3}, bad: []string{pipeline.BadTooLarge}},
		{name: "text paragraphs", mod: func(c *pipeline.InputConfig) { c.TextSplit = "paragraph" }, file: "a.txt",
			data: "\n一\n二\r\n\n\n三\n \n四", texts: []string{"一\n二", "三", "四"}, offs: []int64{2, 6, 8}},
		{name: "text paragraph too large", mod: func(c *pipeline.InputConfig) { c.TextSplit = "paragraph"; c.MaxDocBytes = 8 }, file: "a.txt",
			data: "一\n\nabcdef\nghijkl\n\n二\n", texts: []string{"一", "二"}, offs: []int64{1, 6}, bad: []string{pipeline.BadTooLarge}},
		{name: "csv", file: "a.csv", data: "id,text\n1,一\n2,\"二\n二\"\n\n3,\"三,\"\"3\"\"\"\n",
			texts: []string{"一", "二\n二", "三,\"3\""}, offs: []int64{2, 3, 6}},
		{name: "csv bom at start and in field", file: "a.csv", data: "\uFEFFtext,id\n\uFEFF一,1\n",
			texts: []string{"一"}, offs: []int64{2}},
		{name: "csv wrong field count goes on", file: "a.csv", data: "id,text\n1,一,x\n2,二\n",
			texts: []string{"二"}, offs: []int64{3}, bad: []string{pipeline.BadMalformed}},
		{name: "csv bare quote", file: "a.csv", data: "id,text\n1,a\"b\n2,二\n",
			texts: []string{"二"}, offs: []int64{3}, bad: []string{pipeline.BadMalformed}},
		{name: "csv cut in quoted field", file: "a.csv", data: "id,text\n1,一\n2,\"二",
			texts: []string{"一"}, bad: []string{pipeline.BadTruncated}},
		{name: "csv missing column", file: "a.csv", data: "id,body\n1,一\n2,二\n", bad: []string{pipeline.BadMissingText, pipeline.BadMissingText}},
		{name: "csv header only", file: "a.csv", data: "id,text\n", bad: []string{pipeline.BadEmptyFile}},
		{name: "csv record too large", mod: small, file: "a.csv", data: "id,text\n1,\"" + strings.Repeat("x\n", 50) + "\"\n2,ok\n",
			texts: []string{"ok"}, offs: []int64{53}, bad: []string{pipeline.BadTooLarge}},
		{name: "tsv", file: "a.tsv", data: "text\tid\n一\t1\n", texts: []string{"一"}},
		{name: "csv template", mod: func(c *pipeline.InputConfig) { c.TextTemplate = `{title}\n{ask}` }, file: "a.csv",
			data: "title,ask\n标题,问题\n", texts: []string{"标题\n问题"}},
		{name: "empty file", file: "a.jsonl", data: "", bad: []string{pipeline.BadEmptyFile}},
		{name: "white space only", file: "a.jsonl", data: " \n\r\n\t\n", bad: []string{pipeline.BadEmptyFile}},
		{name: "white space text", file: "a.txt", data: "\n\n  \n", bad: []string{pipeline.BadEmptyFile}},
		{name: "NUL bytes", file: "a.jsonl", data: "{\"text\":\"a\"}\n\x00\x01\x02", bad: []string{pipeline.BadBinary}},
		{name: "png", file: "a.png", data: "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", bad: []string{pipeline.BadBinary}},
		{name: "format forced", mod: func(c *pipeline.InputConfig) { c.Format = "jsonl" }, file: "a.txt",
			data: "{\"text\":\"一\"}\n", texts: []string{"一"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := readData(t, testConfig(tt.mod), tt.file, []byte(tt.data))
			if got := rec.texts(); !slices.Equal(got, tt.texts) {
				t.Errorf("texts = %q, want %q", got, tt.texts)
			}
			if tt.offs != nil {
				var got []int64
				for _, d := range rec.docs {
					got = append(got, d.Offset)
				}
				if !slices.Equal(got, tt.offs) {
					t.Errorf("offsets = %v, want %v", got, tt.offs)
				}
			}
			wantKinds(t, rec, tt.bad...)
		})
	}
}

func TestReadBadRecordDetails(t *testing.T) {
	data := "{\"text\":\"一\"}\n{\"text\": oops}\n{\"text\":\"三\"}\n"
	rec := readData(t, testConfig(nil), "a.jsonl", []byte(data))
	wantKinds(t, rec, pipeline.BadMalformed)
	b := rec.bads[0]
	if b.Offset != 2 || b.ByteOffset != int64(len("{\"text\":\"一\"}\n")) || string(b.Raw) != "{\"text\": oops}" {
		t.Errorf("bad = %+v", b)
	}
	if !strings.Contains(b.Err, "invalid JSON") {
		t.Errorf("err = %q", b.Err)
	}

	// A too-large line keeps its size and its first 4 KiB only.
	long := "{\"text\":\"" + strings.Repeat("x", 10000) + "\"}"
	rec = readData(t, testConfig(func(c *pipeline.InputConfig) { c.MaxDocBytes = 5000 }), "a.jsonl", []byte("\n"+long+"\r\n"))
	wantKinds(t, rec, pipeline.BadTooLarge)
	b = rec.bads[0]
	if b.Size != int64(len(long)) || len(b.Raw) != pipeline.MaxQuarantineRaw || b.Offset != 2 || b.ByteOffset != 1 {
		t.Errorf("too large: size %d raw %d off %d byte %d", b.Size, len(b.Raw), b.Offset, b.ByteOffset)
	}
	if !bytes.Equal(b.Raw, []byte(long[:pipeline.MaxQuarantineRaw])) {
		t.Errorf("raw is not the line's head")
	}
	// A too-large line shorter than the raw cap: raw is the line, without "\r\n".
	rec = readData(t, testConfig(func(c *pipeline.InputConfig) { c.MaxDocBytes = 10 }), "a.jsonl", []byte("123456789012\r\n12345678901\n"))
	wantKinds(t, rec, pipeline.BadTooLarge, pipeline.BadTooLarge)
	if string(rec.bads[0].Raw) != "123456789012" || string(rec.bads[1].Raw) != "12345678901" || rec.bads[1].Size != 11 {
		t.Errorf("raws %q %q", rec.bads[0].Raw, rec.bads[1].Raw)
	}
}

func TestReadIDs(t *testing.T) {
	data := `{"id":"a-1","text":"x"}
{"id":12345678901234567890,"text":"x"}
{"id":1.5e3,"text":"x"}
{"id":null,"text":"x"}
{"text":"x"}
{"id":true,"text":"x"}
`
	rec := readData(t, testConfig(nil), "a.jsonl", []byte(data))
	var ids []string
	for _, d := range rec.docs {
		ids = append(ids, d.ID)
	}
	want := []string{"a-1", "12345678901234567890", "1500", "", "", ""}
	if !slices.Equal(ids, want) {
		t.Errorf("ids = %q, want %q", ids, want)
	}
	rec = readData(t, testConfig(func(c *pipeline.InputConfig) { c.IDField = "" }), "a.jsonl", []byte(data))
	if rec.docs[0].ID != "" {
		t.Errorf("id_field empty still gave id %q", rec.docs[0].ID)
	}
}

func TestReadCompressed(t *testing.T) {
	data := jsonlOf(2000)
	gz, zs := gzipBytes(t, data), zstdBytes(t, data)
	tests := []struct {
		name string
		file string
		data []byte
	}{
		{"gzip by extension", "a.jsonl.gz", gz},
		{"zstd by extension", "a.jsonl.zst", zs},
		{"zstd long extension", "a.jsonl.zstd", zs},
		{"gzip by magic only", "a.jsonl", gz},
		{"zstd by magic only", "a.jsonl", zs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := readData(t, testConfig(nil), tt.file, tt.data)
			wantKinds(t, rec)
			if len(rec.docs) != 2000 || rec.docs[1999].Text != "第1999条记录：中文文本。" {
				t.Fatalf("got %d docs", len(rec.docs))
			}
		})
	}
	// Pooled zstd decoders run on the caller's goroutine: none is left
	// behind. (Counting all goroutines would be flaky: other tests' stages
	// may start theirs meanwhile.)
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "klauspost/compress/zstd") {
		t.Errorf("a zstd goroutine is left running:\n%s", stacks)
	}
}

func TestReadTruncatedCompressed(t *testing.T) {
	data := jsonlOf(20000)
	for _, tc := range []struct {
		name string
		comp []byte
	}{
		{"gzip", gzipBytes(t, data)},
		{"zstd", zstdBytes(t, data)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cut := tc.comp[:len(tc.comp)*2/3]
			rec := readData(t, testConfig(nil), "a.jsonl."+map[string]string{"gzip": "gz", "zstd": "zst"}[tc.name], cut)
			wantKinds(t, rec, pipeline.BadTruncated)
			n := len(rec.docs)
			if n == 0 || n >= 20000 {
				t.Fatalf("%d docs before the cut", n)
			}
			for i, d := range rec.docs {
				if d.Offset != int64(i+1) {
					t.Fatalf("doc %d has offset %d", i, d.Offset)
				}
			}
			b := rec.bads[0]
			// The bad record points at the line the cut fell in.
			if b.Offset != int64(n+1) || b.ByteOffset != int64(len(jsonlOf(n))) {
				t.Errorf("truncated at line %d byte %d, want line %d byte %d", b.Offset, b.ByteOffset, n+1, len(jsonlOf(n)))
			}
			if !strings.Contains(b.Err, "ends early") {
				t.Errorf("err = %q", b.Err)
			}
		})
	}
	t.Run("gzip header only", func(t *testing.T) {
		rec := readData(t, testConfig(nil), "a.jsonl.gz", gzipBytes(t, data)[:5])
		wantKinds(t, rec, pipeline.BadTruncated)
	})
	t.Run("gzip extension without gzip", func(t *testing.T) {
		rec := readData(t, testConfig(nil), "a.jsonl.gz", []byte("{\"text\":\"x\"}\n"))
		wantKinds(t, rec, pipeline.BadMalformed)
	})
	t.Run("empty after decompression", func(t *testing.T) {
		rec := readData(t, testConfig(nil), "a.jsonl.gz", gzipBytes(t, nil))
		wantKinds(t, rec, pipeline.BadEmptyFile)
	})
	t.Run("corrupt gzip", func(t *testing.T) {
		gz := gzipBytes(t, data)
		bad := bytes.Clone(gz)
		for i := len(bad) / 2; i < len(bad)/2+64; i++ {
			bad[i] ^= 0x5a
		}
		rec := readData(t, testConfig(nil), "a.jsonl.gz", bad)
		if len(rec.bads) == 0 || rec.bads[len(rec.bads)-1].Kind != pipeline.BadMalformed {
			t.Errorf("kinds = %v, want a final malformed", rec.kinds())
		}
	})
}

// failingReader returns data, then an I/O error.
type failingReader struct {
	data []byte
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, errors.New("disk on fire")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadIOError(t *testing.T) {
	rec := &recorder{}
	data := jsonlOf(10)
	readInto(t, testConfig(nil), pipeline.InputFile{Path: "a.jsonl", Rel: "a.jsonl"}, &failingReader{data: data[:len(data)-5]}, rec)
	if len(rec.docs) != 9 {
		t.Errorf("%d docs", len(rec.docs))
	}
	wantKinds(t, rec, pipeline.BadIO)
	if !strings.Contains(rec.bads[0].Err, "disk on fire") {
		t.Errorf("err = %q", rec.bads[0].Err)
	}
}

func TestReadStopsOnEmitterError(t *testing.T) {
	stop := errors.New("cancelled")
	for _, file := range []string{"a.jsonl", "a.json", "a.csv", "a.txt"} {
		var data []byte
		switch file {
		case "a.json":
			data = []byte(`[{"text":"a"},{"text":"b"},{"text":"c"}]`)
		case "a.csv":
			data = []byte("text\na\nb\nc\n")
		case "a.txt":
			data = []byte("a\nb\nc\n")
		default:
			data = jsonlOf(3)
		}
		fr, _ := NewFileReader(testConfig(func(c *pipeline.InputConfig) { c.TextSplit = "line" }))
		rec := &recorder{failAt: 2, err: stop}
		err := fr.ReadFile(context.Background(), pipeline.InputFile{Path: file, Rel: file}, bytes.NewReader(data), rec)
		if !errors.Is(err, stop) || len(rec.docs) != 1 {
			t.Errorf("%s: err = %v after %d docs", file, err, len(rec.docs))
		}
	}
}

func TestReadCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fr, _ := NewFileReader(testConfig(nil))
	err := fr.ReadFile(ctx, pipeline.InputFile{Path: "a.jsonl"}, bytes.NewReader(jsonlOf(3)), &recorder{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	// Cancelled mid-file: a file of only bad lines still notices.
	ctx, cancel = context.WithCancel(context.Background())
	rec := &cancelOnBad{cancel: cancel}
	bad := bytes.Repeat([]byte("nope\n"), 5000)
	err = fr.ReadFile(ctx, pipeline.InputFile{Path: "a.jsonl"}, bytes.NewReader(bad), rec)
	if !errors.Is(err, context.Canceled) || rec.n >= 5000 {
		t.Errorf("err = %v after %d bad records", err, rec.n)
	}
}

type cancelOnBad struct {
	cancel func()
	n      int
}

func (c *cancelOnBad) Doc(pipeline.Doc) error { return nil }
func (c *cancelOnBad) Bad(pipeline.BadRecord) {
	c.n++
	c.cancel()
}

// TestReadDoesNotNeedEOF: the engine drains the rest; a reader stopping at
// a file-level problem must not fail.
func TestReadLeavesRestUnread(t *testing.T) {
	data := append([]byte("\x00binary"), bytes.Repeat([]byte("x"), 1<<20)...)
	r := bytes.NewReader(data)
	rec := &recorder{}
	readInto(t, testConfig(nil), pipeline.InputFile{Path: "a.bin"}, r, rec)
	wantKinds(t, rec, pipeline.BadBinary)
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
}

// One FileReader may serve several goroutines (run with -race).
func TestReadConcurrent(t *testing.T) {
	fr, err := NewFileReader(testConfig(func(c *pipeline.InputConfig) { c.TextTemplate = "{id}:{text}" }))
	if err != nil {
		t.Fatal(err)
	}
	data := jsonlOf(500)
	files := map[string][]byte{"a.jsonl": data, "b.jsonl.zst": zstdBytes(t, data), "c.jsonl.gz": gzipBytes(t, data)}
	errs := make(chan error, 12)
	for i := range 12 {
		go func() {
			name := []string{"a.jsonl", "b.jsonl.zst", "c.jsonl.gz"}[i%3]
			rec := &recorder{}
			err := fr.ReadFile(context.Background(), pipeline.InputFile{Path: name, Rel: name}, bytes.NewReader(files[name]), rec)
			if err == nil && (len(rec.docs) != 500 || rec.docs[499].Text != "499:第499条记录：中文文本。") {
				err = errors.New(name + ": wrong documents")
			}
			errs <- err
		}()
	}
	for range 12 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
