package stages

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"winnow/pipeline"
)

// parquetBatchRows is the number of rows per Arrow record batch.
const parquetBatchRows = 1024

// readParquet reads a Parquet file through pqarrow, one record batch at a
// time, and only the columns the record settings name. Offset = the 0-based
// row index. Parquet needs random access: an uncompressed file is opened at
// its path; a compressed one (or one without a path) is first copied to a
// temporary file.
func (run *fileRun) readParquet(stream io.Reader) error {
	src, cleanup, err := run.parquetSource(stream)
	if err != nil {
		return nil // reported
	}
	defer cleanup()
	pf, err := file.NewParquetReader(src)
	if err != nil {
		run.badFile(parquetOpenKind(src), "not a readable Parquet file: "+err.Error(), nil)
		return nil
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: parquetBatchRows}, memory.DefaultAllocator)
	if err != nil {
		run.badFile(pipeline.BadMalformed, "Parquet schema: "+err.Error(), nil)
		return nil
	}
	leaves := parquetLeaves(fr.Manifest, run.rb.needs())
	if len(leaves) == 0 {
		// None of the columns exists: every row is a missing_text.
		return run.parquetNoColumns(pf.NumRows())
	}
	rr, err := fr.GetRecordReader(run.ctx, leaves, nil)
	if err != nil {
		run.badFile(pipeline.BadMalformed, "Parquet columns: "+err.Error(), nil)
		return nil
	}
	defer rr.Release()
	return run.parquetRows(rr)
}

func (run *fileRun) parquetRows(rr pqarrow.RecordReader) error {
	var row int64
	for rr.Next() {
		rec := rr.RecordBatch()
		pr := parquetRow{batch: rec}
		for i := 0; i < int(rec.NumRows()); i++ {
			if err := run.tick(); err != nil {
				return err
			}
			pr.row = i
			if err := run.parquetRecord(&pr, row); err != nil {
				return err
			}
			row++
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		if cerr := run.ctx.Err(); cerr != nil {
			return cerr
		}
		run.bad(pipeline.BadRecord{Kind: pipeline.BadMalformed, Offset: row, ByteOffset: -1,
			Err: fmt.Sprintf("reading Parquet after row %d: %v", row, err)})
	}
	return nil
}

func (run *fileRun) parquetNoColumns(rows int64) error {
	for row := range rows {
		if err := run.tick(); err != nil {
			return err
		}
		if err := run.parquetRecord(noFields{}, row); err != nil {
			return err
		}
	}
	return nil
}

// noFields is a record without any of the wanted fields.
type noFields struct{}

func (noFields) lookup(string) (fieldValue, bool) { return fieldValue{}, false }

// parquetRecord is run.record plus the checks that the stream readers make
// on raw bytes: Parquet strings are UTF-8 by contract, not by proof, and a
// cell may exceed max_doc_bytes.
func (run *fileRun) parquetRecord(src fieldSource, row int64) error {
	d, rerr := run.rb.build(src)
	switch {
	case rerr != nil:
		run.bad(pipeline.BadRecord{Kind: rerr.kind, Offset: row, ByteOffset: -1, Err: rerr.msg})
		return nil
	case int64(len(d.Text)) > run.set.maxDoc:
		run.tooLarge(row, -1, int64(len(d.Text)), []byte(d.Text[:min(len(d.Text), pipeline.MaxQuarantineRaw)]), "text")
		return nil
	case !utf8.ValidString(d.Text):
		run.bad(pipeline.BadRecord{Kind: pipeline.BadEncoding, Offset: row, ByteOffset: -1,
			Err: "text is not valid UTF-8", Raw: []byte(d.Text)})
		return nil
	}
	d.Offset = row
	return run.doc(d)
}

// parquetSource gives random access to the file: its path when the stream
// is the file itself, else a temporary copy of the decompressed stream.
func (run *fileRun) parquetSource(stream io.Reader) (parquet.ReaderAtSeeker, func(), error) {
	if run.codec == "" && run.file.Path != "" {
		f, err := os.Open(run.file.Path)
		if err != nil {
			run.badFile(pipeline.BadIO, "open Parquet file: "+err.Error(), nil)
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	}
	tmp, err := os.CreateTemp("", "winnow-parquet-*")
	if err != nil {
		run.badFile(pipeline.BadIO, "temporary copy of a compressed Parquet file: "+err.Error(), nil)
		return nil, nil, err
	}
	cleanup := func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}
	if _, err := io.Copy(tmp, stream); err != nil {
		cleanup()
		run.streamBad(err, -1, -1, nil)
		return nil, nil, err
	}
	return tmp, cleanup, nil
}

// parquetOpenKind tells a cut file (the PAR1 magic at the start but not at
// the end, where the footer should be) from a file that is not Parquet.
func parquetOpenKind(src parquet.ReaderAtSeeker) string {
	size, err := src.Seek(0, io.SeekEnd)
	if err != nil || size < 4 {
		return pipeline.BadMalformed
	}
	head, tail := make([]byte, 4), make([]byte, 4)
	if _, err := src.ReadAt(head, 0); err != nil {
		return pipeline.BadMalformed
	}
	if _, err := src.ReadAt(tail, size-4); err != nil {
		return pipeline.BadMalformed
	}
	if string(head) == "PAR1" && string(tail) != "PAR1" {
		return pipeline.BadTruncated
	}
	return pipeline.BadMalformed
}

// parquetLeaves returns the leaf column indexes of the wanted top-level
// fields that the file has.
func parquetLeaves(m *pqarrow.SchemaManifest, want []string) []int {
	found := map[string]bool{}
	var leaves []int
	for _, f := range m.Fields {
		name := f.Field.Name
		if found[name] || !contains(want, name) {
			continue
		}
		found[name] = true
		leaves = appendLeaves(leaves, f)
	}
	return leaves
}

func appendLeaves(out []int, f pqarrow.SchemaField) []int {
	if f.IsLeaf() {
		return append(out, f.ColIndex)
	}
	for _, c := range f.Children {
		out = appendLeaves(out, c)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parquetRow is one row of a record batch as a fieldSource.
type parquetRow struct {
	batch arrow.RecordBatch
	row   int
}

func (pr *parquetRow) lookup(name string) (fieldValue, bool) {
	idx := pr.batch.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return fieldValue{}, false
	}
	return arrowValue(pr.batch.Column(idx[0]), pr.row), true
}

// arrowValue converts one cell. Strings are cloned: Arrow's buffers are
// released with the batch. Nested values (lists of turns) go through their
// JSON form, so the presets read them exactly like JSON input.
func arrowValue(col arrow.Array, i int) fieldValue {
	if col.IsNull(i) {
		return fieldValue{kind: kindNull}
	}
	switch a := col.(type) {
	case *array.String:
		return stringValue(strings.Clone(a.Value(i)))
	case *array.LargeString:
		return stringValue(strings.Clone(a.Value(i)))
	case *array.StringView:
		return stringValue(strings.Clone(a.Value(i)))
	case *array.Binary:
		return stringValue(string(a.Value(i)))
	case *array.LargeBinary:
		return stringValue(string(a.Value(i)))
	case *array.Int8, *array.Int16, *array.Int32, *array.Int64,
		*array.Uint8, *array.Uint16, *array.Uint32, *array.Uint64:
		return fieldValue{kind: kindNumber, str: col.ValueStr(i)}
	case *array.Float32:
		return fieldValue{kind: kindNumber, str: strconv.FormatFloat(float64(a.Value(i)), 'f', -1, 32)}
	case *array.Float64:
		return fieldValue{kind: kindNumber, str: strconv.FormatFloat(a.Value(i), 'f', -1, 64)}
	case *array.Boolean:
		return fieldValue{kind: kindBool, str: strconv.FormatBool(a.Value(i))}
	}
	raw, err := json.Marshal(col.GetOneForMarshal(i))
	if err != nil || len(raw) == 0 || !json.Valid(raw) {
		return fieldValue{kind: kindObject, str: col.ValueStr(i)}
	}
	// json.Marshal escapes <, > and & as \u003c etc.; the scanner decodes them.
	return jsonValue(bytes.TrimSpace(raw))
}
