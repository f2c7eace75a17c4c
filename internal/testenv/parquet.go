package testenv

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ReadRows reads every Parquet shard in dir, in name order, with arrow-go's
// reader: one map per row, values as Arrow marshals them to JSON.
func ReadRows(t *testing.T, dir string) []map[string]any {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
	var rows []map[string]any
	for _, p := range paths {
		f, err := file.OpenParquetFile(p, false)
		if err != nil {
			t.Fatal(err)
		}
		fr, err := pqarrow.NewFileReader(f, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := fr.ReadTable(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		tr := array.NewTableReader(tbl, 1000)
		for tr.Next() {
			rec := tr.RecordBatch()
			for i := 0; i < int(rec.NumRows()); i++ {
				row := map[string]any{}
				for c, fld := range rec.Schema().Fields() {
					row[fld.Name] = rec.Column(c).GetOneForMarshal(i)
				}
				rows = append(rows, row)
			}
		}
		tr.Release()
		tbl.Release()
		f.Close()
	}
	return rows
}
