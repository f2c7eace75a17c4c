package stages

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"winnow/pipeline"
)

var turnType = arrow.StructOf(
	arrow.Field{Name: "from", Type: arrow.BinaryTypes.String},
	arrow.Field{Name: "value", Type: arrow.BinaryTypes.String},
)

// writeTestParquet writes rows {id int64, text string (nullable), title
// large_string, conversations list<struct<from, value>>} in row groups of
// 2 rows, so reading crosses row groups.
func writeTestParquet(t *testing.T, path string, texts []*string) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "title", Type: arrow.BinaryTypes.LargeString},
		{Name: "conversations", Type: arrow.ListOf(turnType)},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	conv := b.Field(3).(*array.ListBuilder)
	turn := conv.ValueBuilder().(*array.StructBuilder)
	for i, tx := range texts {
		b.Field(0).(*array.Int64Builder).Append(int64(1000 + i))
		if tx == nil {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(*tx)
		}
		b.Field(2).(*array.LargeStringBuilder).Append("标题" + string(rune('A'+i)))
		conv.Append(true)
		for _, tv := range [][2]string{{"human", "问题"}, {"gpt", "回答"}} {
			turn.Append(true)
			turn.FieldBuilder(0).(*array.StringBuilder).Append(tv[0])
			turn.FieldBuilder(1).(*array.StringBuilder).Append(tv[1])
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	defer tbl.Release()
	props := parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(2))
	if err := pqarrow.WriteTable(tbl, f, 2, props, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
}

func strp(s string) *string { return &s }

func TestReadParquet(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.parquet")
	writeTestParquet(t, path, []*string{strp("第一"), strp("第二"), nil, strp(""), strp("第五\xff"), strp("第六")})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	rec := readPath(t, testConfig(nil), path)
	if got := rec.texts(); !slices.Equal(got, []string{"第一", "第二", "第六"}) {
		t.Errorf("texts %q", got)
	}
	if rec.docs[0].ID != "1000" || rec.docs[2].Offset != 5 {
		t.Errorf("first doc %+v, last %+v", rec.docs[0], rec.docs[2])
	}
	wantKinds(t, rec, pipeline.BadMissingText, pipeline.BadEmptyText, pipeline.BadEncoding)

	t.Run("template over string and large_string", func(t *testing.T) {
		rec := readPath(t, testConfig(func(c *pipeline.InputConfig) { c.TextTemplate = "{title}: {text}" }), path)
		if len(rec.docs) != 5 || rec.docs[0].Text != "标题A: 第一" || rec.docs[2].Text != "标题C: " {
			t.Errorf("texts %q", rec.texts())
		}
	})
	t.Run("sharegpt from a list<struct> column", func(t *testing.T) {
		rec := readPath(t, testConfig(sharegptCfg), path)
		if len(rec.docs) != 6 || rec.docs[0].Text != "问题\n\n回答" || rec.docs[0].Messages[1].Role != "assistant" {
			t.Errorf("docs %+v", rec.docs[:1])
		}
	})
	t.Run("missing column", func(t *testing.T) {
		rec := readPath(t, testConfig(func(c *pipeline.InputConfig) { c.TextField = "body"; c.IDField = "" }), path)
		if len(rec.docs) != 0 || len(rec.bads) != 6 || rec.bads[5].Offset != 5 {
			t.Errorf("kinds %v", rec.kinds())
		}
	})
	t.Run("magic without extension", func(t *testing.T) {
		p := filepath.Join(dir, "data.bin")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if rec := readPath(t, testConfig(nil), p); len(rec.docs) != 3 {
			t.Errorf("%d docs", len(rec.docs))
		}
	})
	t.Run("compressed, read from the stream", func(t *testing.T) {
		rec := readData(t, testConfig(nil), "data.parquet.zst", zstdBytes(t, data))
		if len(rec.docs) != 3 {
			t.Errorf("%d docs, kinds %v", len(rec.docs), rec.kinds())
		}
	})
	t.Run("truncated", func(t *testing.T) {
		p := filepath.Join(dir, "cut.parquet")
		if err := os.WriteFile(p, data[:len(data)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		rec := readPath(t, testConfig(nil), p)
		wantKinds(t, rec, pipeline.BadTruncated)
	})
	t.Run("not parquet", func(t *testing.T) {
		rec := readData(t, testConfig(nil), "x.parquet", bytes.Repeat([]byte("not parquet "), 10))
		if len(rec.bads) != 1 || rec.docs != nil {
			t.Errorf("kinds %v", rec.kinds())
		}
	})
}
