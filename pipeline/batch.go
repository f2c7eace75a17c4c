package pipeline

import (
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/cespare/xxhash/v2"
)

// Core column names, present in every Batch and every shard.
const (
	ColID       = "id"
	ColText     = "text"
	ColSource   = "source"
	ColOffset   = "offset"
	ColMessages = "messages"
	// Only in rejected/ shards.
	ColDropStage  = "drop_stage"
	ColDropReason = "drop_reason"
)

// MessagesType is the Arrow type of the messages column of instruction data.
var MessagesType = arrow.ListOf(arrow.StructOf(
	arrow.Field{Name: "role", Type: arrow.BinaryTypes.String},
	arrow.Field{Name: "content", Type: arrow.BinaryTypes.String},
))

// Drop records why a row left the pipeline: the first failing rule wins.
type Drop struct {
	Stage  string
	Reason string
}

// Batch is an Arrow record plus what the stages decided about its rows.
// A Batch belongs to one goroutine at a time; it is not safe for concurrent use.
type Batch struct {
	// Seq orders batches for the writer: the reader numbers them 0, 1, 2 … in input order.
	Seq int64
	// Tokens holds per-row words from the segmentation stage, reused by later
	// stages; nil until a stage sets it.
	Tokens [][]string

	mem    memory.Allocator
	counts map[string]int64 // by the stage now running; see AddCount
	side   map[any]any      // per-stage side data; see SetSide
	// counters are the stages' counts for this batch, merged by the
	// writer in batch order, so a checkpoint holds exactly the batches
	// written before it.
	counters []stageCounter
	scratch  map[any]any // shared by the stages of one chain; see SetScratch
	// held are arrays the batch keeps alive for side data that points
	// into them (staged tokens); released with the batch.
	held   []arrow.Array
	fields []arrow.Field
	cols   []arrow.Array
	alive  []bool
	drops  []Drop
	nAlive int
}

// NewBatch builds the core columns from docs. sources[i] is the source of docs[i];
// withMessages adds the messages column (instruction data).
func NewBatch(mem memory.Allocator, seq int64, docs []Doc, sources []string, withMessages bool) *Batch {
	n := len(docs)
	b := &Batch{Seq: seq, mem: mem, alive: make([]bool, n), drops: make([]Drop, n), nAlive: n}
	for i := range b.alive {
		b.alive[i] = true
	}
	ids := array.NewStringBuilder(mem)
	srcs := array.NewStringBuilder(mem)
	offs := array.NewInt64Builder(mem)
	defer ids.Release()
	defer srcs.Release()
	defer offs.Release()
	for i, d := range docs {
		id := d.ID
		if id == "" {
			id = DerivedID(sources[i], d.Offset)
		}
		ids.Append(id)
		srcs.Append(sources[i])
		offs.Append(d.Offset)
	}
	b.addOwned(arrow.Field{Name: ColID, Type: arrow.BinaryTypes.String}, ids.NewArray())
	b.addOwned(arrow.Field{Name: ColText, Type: arrow.BinaryTypes.String}, stringArray(mem, docs))
	b.addOwned(arrow.Field{Name: ColSource, Type: arrow.BinaryTypes.String}, srcs.NewArray())
	b.addOwned(arrow.Field{Name: ColOffset, Type: arrow.PrimitiveTypes.Int64}, offs.NewArray())
	if withMessages {
		b.addOwned(arrow.Field{Name: ColMessages, Type: MessagesType, Nullable: true}, buildMessages(mem, docs))
	}
	return b
}

// stringArray builds the text column in one pass: one exact allocation for
// the bytes and one for the offsets, where a builder would grow, clear and
// copy its buffers (a third of NewBatch's time on Chinese text).
func stringArray(mem memory.Allocator, docs []Doc) arrow.Array {
	total := 0
	for i := range docs {
		total += len(docs[i].Text)
	}
	if total > math.MaxInt32 {
		// Readers cap documents and batches far below 2 GiB; a builder
		// would fail the same way, so say it plainly.
		panic(fmt.Sprintf("pipeline: batch text of %d bytes exceeds Arrow's 2 GiB string limit", total))
	}
	data := memory.NewResizableBuffer(mem)
	data.Resize(total)
	offsets := memory.NewResizableBuffer(mem)
	offsets.Resize((len(docs) + 1) * arrow.Int32SizeBytes)
	offs := arrow.Int32Traits.CastFromBytes(offsets.Bytes())
	pos := 0
	for i := range docs {
		offs[i] = int32(pos)
		pos += copy(data.Bytes()[pos:], docs[i].Text)
	}
	offs[len(docs)] = int32(pos)
	d := array.NewData(arrow.BinaryTypes.String, len(docs), []*memory.Buffer{nil, offsets, data}, nil, 0, 0)
	defer d.Release()
	offsets.Release()
	data.Release()
	return array.NewStringData(d)
}

func buildMessages(mem memory.Allocator, docs []Doc) arrow.Array {
	lb := array.NewListBuilder(mem, MessagesType.Elem())
	defer lb.Release()
	sb := lb.ValueBuilder().(*array.StructBuilder)
	roles := sb.FieldBuilder(0).(*array.StringBuilder)
	contents := sb.FieldBuilder(1).(*array.StringBuilder)
	for _, d := range docs {
		if d.Messages == nil {
			lb.AppendNull()
			continue
		}
		lb.Append(true)
		for _, m := range d.Messages {
			sb.Append(true)
			roles.Append(m.Role)
			contents.Append(m.Content)
		}
	}
	return lb.NewArray()
}

// DerivedID is the id of a document whose input has none: a hash of where it
// came from, so it is the same on every run and never random.
func DerivedID(source string, offset int64) string {
	var buf [64]byte
	d := xxhash.New()
	d.WriteString(source)
	d.Write(strconv.AppendInt(append(buf[:0], 0), offset, 10))
	// Zero-padded hex without fmt: this runs once per document.
	h := strconv.AppendUint(buf[:0], d.Sum64(), 16)
	id := make([]byte, 16)
	for i := range id {
		id[i] = '0'
	}
	copy(id[16-len(h):], h)
	return string(id)
}

// Len is the number of rows, alive or not.
func (b *Batch) Len() int { return len(b.alive) }

// AliveCount is the number of rows not yet dropped.
func (b *Batch) AliveCount() int { return b.nAlive }

// Alive reports whether row i has not been dropped.
func (b *Batch) Alive(i int) bool { return b.alive[i] }

// DropOf returns why row i was dropped (zero Drop when alive).
func (b *Batch) DropOf(i int) Drop { return b.drops[i] }

// Drop marks row i as dropped by stage for reason. A row already dropped
// keeps its first reason.
func (b *Batch) Drop(i int, stage, reason string) {
	if !b.alive[i] {
		return
	}
	b.alive[i] = false
	b.drops[i] = Drop{Stage: stage, Reason: reason}
	b.nAlive--
}

// AddCount adds n to a named counter of the stage now processing the batch
// (e.g. normalize's "nfkc_changed"). The engine sums them per stage over the
// run into stats.json, so a stage reports what each of its steps did
// without printing or holding state.
func (b *Batch) AddCount(name string, n int64) {
	if b.counts == nil {
		b.counts = map[string]int64{}
	}
	b.counts[name] += n
}

// takeCounts returns and clears the counters added since the last call.
func (b *Batch) takeCounts() map[string]int64 {
	c := b.counts
	b.counts = nil
	return c
}

// Fields returns the batch's schema fields in column order.
func (b *Batch) Fields() []arrow.Field { return b.fields }

// ColumnNames returns the batch's column names in order.
func (b *Batch) ColumnNames() []string {
	names := make([]string, len(b.fields))
	for i, f := range b.fields {
		names[i] = f.Name
	}
	return names
}

// Column returns the named column, or nil when the batch has none.
func (b *Batch) Column(name string) arrow.Array {
	if i := b.index(name); i >= 0 {
		return b.cols[i]
	}
	return nil
}

// Texts returns the text column.
func (b *Batch) Texts() *array.String { return b.Column(ColText).(*array.String) }

// SetColumn adds a column, or replaces the one with the same name. The batch
// takes ownership of arr (it will Release it); a stage must set the same
// columns on every batch so all shards share one schema.
func (b *Batch) SetColumn(f arrow.Field, arr arrow.Array) error {
	if arr.Len() != b.Len() {
		return fmt.Errorf("column %s has %d rows, batch has %d", f.Name, arr.Len(), b.Len())
	}
	if i := b.index(f.Name); i >= 0 {
		b.cols[i].Release()
		b.fields[i], b.cols[i] = f, arr
		return nil
	}
	b.addOwned(f, arr)
	return nil
}

func (b *Batch) addOwned(f arrow.Field, arr arrow.Array) {
	b.fields = append(b.fields, f)
	b.cols = append(b.cols, arr)
}

func (b *Batch) index(name string) int {
	for i, f := range b.fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// Allocator is the memory allocator stages should build new columns with.
func (b *Batch) Allocator() memory.Allocator { return b.mem }

// Record returns all rows as one Arrow record; the caller releases it.
func (b *Batch) Record() arrow.RecordBatch {
	return array.NewRecordBatch(arrow.NewSchema(b.fields, nil), b.cols, int64(b.Len()))
}

// SetSide keeps v with the batch for the stage owner (its key: a stage
// value, so the same stage listed twice keeps two entries). Global stages
// use it to hand per-row data from Process to the engine and from the
// engine to Apply without Arrow columns.
func (b *Batch) SetSide(owner, v any) {
	if b.side == nil {
		b.side = map[any]any{}
	}
	b.side[owner] = v
}

// Side returns what SetSide kept for owner, or nil.
func (b *Batch) Side(owner any) any { return b.side[owner] }

// SetScratch keeps v for the rest of this batch's stage chain: the engine
// drops it when the chain ends, before the batch waits for the writer, so
// stages can share per-row work (a token stream) without holding it longer.
func (b *Batch) SetScratch(key, v any) {
	if b.scratch == nil {
		b.scratch = map[any]any{}
	}
	b.scratch[key] = v
}

// Scratch returns what SetScratch kept for key, or nil.
func (b *Batch) Scratch(key any) any { return b.scratch[key] }

// ClearScratch drops the scratch data; the engine calls it when a chain
// ends (and a benchmark between runs of the same stages).
func (b *Batch) ClearScratch() { b.scratch = nil }

// Release frees the batch's Arrow memory.
func (b *Batch) Release() {
	for _, c := range b.cols {
		c.Release()
	}
	for _, a := range b.held {
		a.Release()
	}
	b.cols, b.fields, b.held, b.side, b.scratch = nil, nil, nil, nil, nil
}
