package pipeline

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
)

// work turns raw batches into Arrow batches and runs the whole stage chain
// on each, so a batch never changes goroutine mid-chain.
func (r *run) work(ctx context.Context, steps []step, in <-chan rawBatch, out chan<- *Batch) error {
	// One OS thread per worker makes the thread's CPU clock the stage's.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	withMessages := r.cfg.Input.Record != "plain"
	for raw := range in {
		b := raw.staged
		if b == nil {
			b = NewBatch(r.mem, raw.seq, raw.docs, raw.sources, withMessages)
		}
		b.counters = make([]stageCounter, len(r.stages))
		if err := r.runSteps(ctx, steps, b, b.counters); err != nil {
			b.Release()
			return err
		}
		b.ClearScratch()
		select {
		case out <- b:
		case <-ctx.Done():
			b.Release()
			return ctx.Err()
		}
	}
	return nil
}

func (r *run) runSteps(ctx context.Context, steps []step, b *Batch, counters []stageCounter) error {
	texts := b.Texts()
	for _, s := range steps {
		st, c := s.stage, &counters[s.counter]
		before := aliveRows(b)
		if s.countIn {
			docs, bytes := aliveCount(b, texts, before)
			c.in.add(docs, bytes)
		}
		t0, cpu0 := time.Now(), threadCPU()
		if err := st.Process(ctx, b); err != nil {
			return fmt.Errorf("stage %s: %w", st.Name(), err)
		}
		c.wall += int64(time.Since(t0))
		c.cpuNs += threadCPU() - cpu0
		c.addCounts(b.takeCounts())
		texts = b.Texts() // a stage may have replaced the text column
		if !s.countOut {
			continue
		}
		for _, row := range before {
			n := int64(texts.ValueLen(row))
			if b.Alive(row) {
				c.out.add(1, n)
				continue
			}
			if c.dropped == nil {
				c.dropped = map[string]Count{}
			}
			d := c.dropped[b.DropOf(row).Reason]
			d.add(1, n)
			c.dropped[b.DropOf(row).Reason] = d
		}
	}
	return nil
}

func aliveRows(b *Batch) []int {
	rows := make([]int, 0, b.AliveCount())
	for i := 0; i < b.Len(); i++ {
		if b.Alive(i) {
			rows = append(rows, i)
		}
	}
	return rows
}

func aliveCount(b *Batch, texts *array.String, rows []int) (int64, int64) {
	var n int64
	for _, row := range rows {
		n += int64(texts.ValueLen(row))
	}
	return int64(len(rows)), n
}

// writeOrdered receives batches in any order and writes them in sequence
// order, which makes the shards independent of the worker count. At most
// about 2×workers batches wait here, bounded by the channels upstream.
func (r *run) writeOrdered(ctx context.Context, in <-chan *Batch, out passOutput) error {
	pending := map[int64]*Batch{}
	next := out.first
	defer func() {
		for _, b := range pending {
			b.Release()
		}
	}()
	for b := range in {
		pending[b.Seq] = b
		for {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			err := r.writeBatch(ctx, b, out)
			for i := range b.counters {
				r.counters[i].merge(&b.counters[i])
			}
			b.Release()
			if err == nil && out.final {
				err = r.checkpointShards(b.Seq)
			} else if err == nil {
				err = r.checkpointPass(b.Seq, out)
			}
			if err != nil {
				return fmt.Errorf("%w: %w", ErrOutput, err)
			}
			next++
		}
	}
	return ctx.Err()
}

// passOutput is where a pass's rows go: the final shards, or staged rows
// plus a global stage's collector.
type passOutput struct {
	final   bool
	staged  *stagedWriter
	collect Collector
	first   int64 // the first batch to write (a resumed pass skips some)
	pass    int
}

func (r *run) writeBatch(ctx context.Context, b *Batch, out passOutput) error {
	rec := b.Record()
	defer rec.Release()
	if !out.final {
		// Dropped rows are staged too: they go through the remaining
		// stages as dead rows, so every rejected shard has one schema.
		if err := out.collect.Add(b); err != nil {
			return err
		}
		return out.staged.Write(b, rec)
	}
	r.columns.add(b)
	texts := b.Texts()
	var kept, rejected Count
	for i := 0; i < b.Len(); i++ {
		if b.Alive(i) {
			kept.add(1, int64(texts.ValueLen(i)))
		} else {
			rejected.add(1, int64(texts.ValueLen(i)))
		}
	}
	r.stats.Kept.add(kept.Docs, kept.Bytes)
	r.stats.Rejected.add(rejected.Docs, rejected.Bytes)
	r.progress.DocsKept.Add(kept.Docs)
	r.progress.DocsRejected.Add(rejected.Docs)
	if rejected.Docs == 0 {
		return r.kept.Write(rec)
	}
	if kept.Docs > 0 {
		if err := r.writeRows(ctx, r.kept, rec, b, true); err != nil {
			return err
		}
	}
	if r.rejected == nil {
		return nil
	}
	withReasons := r.withDropColumns(b, rec)
	defer withReasons.Release()
	return r.writeRows(ctx, r.rejected, withReasons, b, false)
}

// writeRows writes the rows of rec whose aliveness in b equals alive.
func (r *run) writeRows(ctx context.Context, w *ShardWriter, rec arrow.RecordBatch, b *Batch, alive bool) error {
	rows, err := r.filterRows(ctx, rec, b, alive)
	if err != nil {
		return err
	}
	defer rows.Release()
	return w.Write(rows)
}

// filterRows returns the rows of rec whose aliveness in b equals alive;
// the caller releases the result.
func (r *run) filterRows(ctx context.Context, rec arrow.RecordBatch, b *Batch, alive bool) (arrow.RecordBatch, error) {
	mb := array.NewBooleanBuilder(r.mem)
	defer mb.Release()
	for i := 0; i < b.Len(); i++ {
		mb.Append(b.Alive(i) == alive)
	}
	mask := mb.NewArray()
	defer mask.Release()
	filtered, err := compute.FilterRecordBatch(ctx, rec, mask, compute.DefaultFilterOptions())
	if err != nil {
		return nil, fmt.Errorf("filter batch: %w", err)
	}
	return filtered, nil
}

// withDropColumns appends drop_stage and drop_reason (null for alive rows).
func (r *run) withDropColumns(b *Batch, rec arrow.RecordBatch) arrow.RecordBatch {
	sa, ra := dropArrays(r.mem, b)
	defer sa.Release()
	defer ra.Release()
	fields := append(append([]arrow.Field{}, rec.Schema().Fields()...),
		arrow.Field{Name: ColDropStage, Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: ColDropReason, Type: arrow.BinaryTypes.String, Nullable: true})
	cols := append(append([]arrow.Array{}, rec.Columns()...), sa, ra)
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
}
