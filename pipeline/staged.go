package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Staged files carry what a batch holds besides its columns: the tokens,
// so stages after a global stage reuse the segmentation, and the drops.
const (
	colTokens     = "__tokens"
	colDropStage  = "__drop_stage"
	colDropReason = "__drop_reason"
)

var tokensType = arrow.ListOf(arrow.BinaryTypes.String)

// stagedWriter writes every row of a pass, one Arrow IPC record per batch,
// in sequence order: the next pass reads them back as the same batches,
// whose alive rows have consecutive ordinals. The records go to numbered
// segment files in dir (an IPC file cannot be appended to once closed):
// a checkpoint closes the current one.
type stagedWriter struct {
	dir   string
	mem   memory.Allocator
	f     *os.File
	w     *ipc.FileWriter
	recs  int64
	segs  int   // segments begun
	bytes int64 // column bytes staged since the last checkpoint
}

func newStagedWriter(dir string, mem memory.Allocator) *stagedWriter {
	return &stagedWriter{dir: dir, mem: mem}
}

func stagedSegment(dir string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("staged-%04d.arrow", i))
}

// Write stages rec, all rows of b, with their tokens and drops.
func (s *stagedWriter) Write(b *Batch, rec arrow.RecordBatch) error {
	toks := s.tokens(b)
	defer toks.Release()
	stage, reason := dropArrays(s.mem, b)
	defer stage.Release()
	defer reason.Release()
	fields := append(append([]arrow.Field{}, rec.Schema().Fields()...),
		arrow.Field{Name: colTokens, Type: tokensType, Nullable: true},
		arrow.Field{Name: colDropStage, Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: colDropReason, Type: arrow.BinaryTypes.String, Nullable: true})
	cols := append(append([]arrow.Array{}, rec.Columns()...), toks, stage, reason)
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	defer out.Release()
	if s.w == nil {
		f, err := os.Create(stagedSegment(s.dir, s.segs))
		if err != nil {
			return fmt.Errorf("stage rows: %w", err)
		}
		w, err := ipc.NewFileWriter(f, ipc.WithSchema(out.Schema()), ipc.WithAllocator(s.mem), ipc.WithLZ4())
		if err != nil {
			f.Close()
			return fmt.Errorf("stage rows in %s: %w", f.Name(), err)
		}
		s.f, s.w = f, w
		s.segs++
	}
	if err := s.w.Write(out); err != nil {
		return fmt.Errorf("stage rows in %s: %w", s.f.Name(), err)
	}
	s.recs++
	s.bytes += recordBytes(out)
	return nil
}

// tokens builds the token list of b's rows (null where a row has none).
func (s *stagedWriter) tokens(b *Batch) arrow.Array {
	lb := array.NewListBuilder(s.mem, arrow.BinaryTypes.String)
	defer lb.Release()
	vb := lb.ValueBuilder().(*array.StringBuilder)
	for i := 0; i < b.Len(); i++ {
		if b.Tokens == nil || b.Tokens[i] == nil {
			lb.AppendNull()
			continue
		}
		lb.Append(true)
		for _, t := range b.Tokens[i] {
			vb.Append(t)
		}
	}
	return lb.NewArray()
}

// Close finishes the current segment; a pass without input leaves none.
func (s *stagedWriter) Close() error {
	if s.w == nil {
		return nil
	}
	w, f := s.w, s.f
	s.w, s.f, s.bytes = nil, nil, 0
	if err := w.Close(); err != nil {
		f.Close()
		return fmt.Errorf("finish %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("finish %s: %w", f.Name(), err)
	}
	return f.Close()
}

// readStaged streams a pass's staged segments back as batches, numbered
// in order, with the previous global stage's decisions attached; batches
// up to skip only take their decisions (an earlier attempt wrote them).
func (r *run) readStaged(ctx context.Context, dir string, dec Decider, work chan<- rawBatch, skip int64) error {
	var seq int64
	for i := 0; ; i++ {
		f, err := os.Open(stagedSegment(dir, i))
		if os.IsNotExist(err) {
			return nil // the last segment, or a pass without input
		}
		if err != nil {
			return fmt.Errorf("read staged rows: %w", err)
		}
		err = r.readSegment(ctx, f, dec, work, skip, &seq)
		f.Close()
		if err != nil {
			return err
		}
	}
}

func (r *run) readSegment(ctx context.Context, f *os.File, dec Decider, work chan<- rawBatch, skip int64, seq *int64) error {
	rd, err := ipc.NewFileReader(f, ipc.WithAllocator(r.mem))
	if err != nil {
		return fmt.Errorf("read staged rows %s: %w", f.Name(), err)
	}
	defer rd.Close()
	for i := 0; i < rd.NumRecords(); i++ {
		rec, err := rd.RecordBatchAt(i)
		if err != nil {
			return fmt.Errorf("read staged rows %s record %d: %w", f.Name(), i, err)
		}
		b := batchFromStaged(r.mem, *seq, rec)
		rec.Release()
		if err := dec.Attach(b); err != nil {
			b.Release()
			return err
		}
		if *seq++; b.Seq <= skip {
			b.Release()
			continue
		}
		select {
		case work <- rawBatch{seq: b.Seq, staged: b}:
		case <-ctx.Done():
			b.Release()
			return ctx.Err()
		}
	}
	return nil
}

// batchFromStaged turns a staged record back into the batch it was. Its
// tokens point into the staged token array, which the batch holds until it
// is released.
func batchFromStaged(mem memory.Allocator, seq int64, rec arrow.RecordBatch) *Batch {
	n := int(rec.NumRows())
	b := &Batch{Seq: seq, mem: mem, alive: make([]bool, n), drops: make([]Drop, n), nAlive: n}
	for i := range b.alive {
		b.alive[i] = true
	}
	var stage, reason *array.String
	for i, f := range rec.Schema().Fields() {
		col := rec.Column(i)
		switch f.Name {
		case colTokens:
			b.Tokens = stagedTokens(col.(*array.List), n)
		case colDropStage:
			stage = col.(*array.String)
			continue
		case colDropReason:
			reason = col.(*array.String)
			continue
		default:
			col.Retain()
			b.addOwned(f, col)
			continue
		}
		col.Retain()
		b.held = append(b.held, col)
	}
	for i := 0; i < n; i++ {
		if stage != nil && stage.IsValid(i) {
			b.Drop(i, stage.Value(i), reason.Value(i))
		}
	}
	return b
}

// dropArrays returns b's drop stage and reason per row, null where alive.
func dropArrays(mem memory.Allocator, b *Batch) (arrow.Array, arrow.Array) {
	stage := array.NewStringBuilder(mem)
	reason := array.NewStringBuilder(mem)
	defer stage.Release()
	defer reason.Release()
	for i := 0; i < b.Len(); i++ {
		if b.Alive(i) {
			stage.AppendNull()
			reason.AppendNull()
			continue
		}
		d := b.DropOf(i)
		stage.Append(d.Stage)
		reason.Append(d.Reason)
	}
	return stage.NewArray(), reason.NewArray()
}

func stagedTokens(list *array.List, n int) [][]string {
	if list.NullN() == n {
		return nil
	}
	vals := list.ListValues().(*array.String)
	out := make([][]string, n)
	for i := 0; i < n; i++ {
		if list.IsNull(i) {
			continue
		}
		lo, hi := list.ValueOffsets(i)
		words := make([]string, hi-lo)
		for j := range words {
			words[j] = vals.Value(int(lo) + j)
		}
		out[i] = words
	}
	return out
}
