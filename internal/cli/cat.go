package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// CatOptions are the settings of `winnow cat`.
type CatOptions struct {
	Limit   int64    // rows to print; 0 = all
	Columns []string // columns in this order; empty = all; a column the shard lacks prints as null
	Format  string   // jsonl | table
	Width   int      // table: longest cell, in characters
}

// Cat prints rows of a Parquet shard.
func Cat(ctx context.Context, w io.Writer, path string, o CatOptions) error {
	if o.Format != "jsonl" && o.Format != "table" {
		return fmt.Errorf("--format %q: want jsonl or table", o.Format)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1024}, memory.DefaultAllocator)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer rr.Release()
	cols := o.Columns
	if len(cols) == 0 {
		for _, fld := range rr.Schema().Fields() {
			cols = append(cols, fld.Name)
		}
	}
	p := newRowPrinter(w, cols, o)
	var n int64
	for rr.Next() && (o.Limit == 0 || n < o.Limit) {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()) && (o.Limit == 0 || n < o.Limit); i++ {
			if err := p.row(rowValues(rec, cols, i)); err != nil {
				return err
			}
			n++
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		return fmt.Errorf("%s: %w", path, err)
	}
	return p.flush()
}

// rowValues returns row i's values for cols; absent columns give nil.
func rowValues(rec arrow.RecordBatch, cols []string, i int) []any {
	vals := make([]any, len(cols))
	for j, name := range cols {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) == 0 {
			continue
		}
		vals[j] = rec.Column(idx[0]).GetOneForMarshal(i)
	}
	return vals
}

type rowPrinter struct {
	w    io.Writer
	tw   *tabwriter.Writer
	cols []string
	o    CatOptions
}

func newRowPrinter(w io.Writer, cols []string, o CatOptions) *rowPrinter {
	p := &rowPrinter{w: w, cols: cols, o: o}
	if o.Format == "table" {
		p.tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(p.tw, strings.Join(cols, "\t"))
	}
	return p
}

func (p *rowPrinter) row(vals []any) error {
	if p.tw == nil {
		// Keys in column order, which a map would lose.
		var sb strings.Builder
		sb.WriteByte('{')
		for j, v := range vals {
			if j > 0 {
				sb.WriteByte(',')
			}
			k, _ := json.Marshal(p.cols[j])
			val, err := marshalNoEscape(v)
			if err != nil {
				return err
			}
			sb.Write(k)
			sb.WriteByte(':')
			sb.Write(val)
		}
		sb.WriteString("}\n")
		_, err := io.WriteString(p.w, sb.String())
		return err
	}
	cells := make([]string, len(vals))
	for j, v := range vals {
		cells[j] = cell(v, p.o.Width)
	}
	_, err := fmt.Fprintln(p.tw, strings.Join(cells, "\t"))
	return err
}

func (p *rowPrinter) flush() error {
	if p.tw != nil {
		return p.tw.Flush()
	}
	return nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimRight(sb.String(), "\n")), nil
}

// cell renders a value on one line, cut to width characters.
func cell(v any, width int) string {
	var s string
	switch x := v.(type) {
	case nil:
		s = "null"
	case string:
		s = x
	default:
		b, _ := marshalNoEscape(x)
		s = string(b)
	}
	s = strings.NewReplacer("\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(s)
	if r := []rune(s); width > 0 && len(r) > width {
		s = string(r[:width-1]) + "…"
	}
	return s
}
