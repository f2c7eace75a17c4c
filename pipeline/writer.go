package pipeline

import (
	"fmt"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// OutputFile is one file of a run's output, as listed in the manifest.
type OutputFile struct {
	Path   string `json:"path"` // relative to the run directory
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// ShardWriter writes records into numbered Parquet shards in one directory,
// starting a new shard when the current one holds ShardBytes of column data
// and a new row group every RowGroupBytes. Records are written in the order
// given, so the same records give byte-identical shards.
type ShardWriter struct {
	dir    string // run directory
	subdir string // "shards" or "rejected"
	cfg    OutputConfig
	meta   [][2]string

	schema  *arrow.Schema
	file    *atomicFile
	fw      *pqarrow.FileWriter
	index   int
	bytes   int64 // column bytes in the current shard
	rgBytes int64 // column bytes in the current row group
	rows    int64

	Outputs []OutputFile
}

// NewShardWriter writes shards to runDir/subdir; meta is stored as Parquet
// key/value metadata in every shard.
func NewShardWriter(runDir, subdir string, cfg OutputConfig, meta [][2]string) *ShardWriter {
	return &ShardWriter{dir: runDir, subdir: subdir, cfg: cfg, meta: meta}
}

// Write appends rec to the current shard. Every record must have the schema
// of the first one.
func (w *ShardWriter) Write(rec arrow.RecordBatch) error {
	if rec.NumRows() == 0 {
		return nil
	}
	if w.schema == nil {
		w.schema = rec.Schema()
	} else if !w.schema.Equal(rec.Schema()) {
		return fmt.Errorf("%s: schema changed between batches:\n%s\nvs\n%s", w.subdir, w.schema, rec.Schema())
	}
	if w.fw == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	if err := w.fw.WriteBuffered(rec); err != nil {
		return fmt.Errorf("write %s: %w", w.file.final, err)
	}
	n := recordBytes(rec)
	w.bytes += n
	w.rgBytes += n
	w.rows += rec.NumRows()
	if w.bytes >= w.cfg.ShardBytes {
		return w.closeShard()
	}
	if w.rgBytes >= w.cfg.RowGroupBytes {
		// The unchecked form panics when flushing the row group fails
		// (a full disk).
		if err := w.fw.NewBufferedRowGroupChecked(); err != nil {
			return fmt.Errorf("write %s: %w", w.file.final, err)
		}
		w.rgBytes = 0
	}
	return nil
}

func (w *ShardWriter) open() error {
	name := fmt.Sprintf("part-%05d.parquet", w.index)
	f, err := createAtomic(filepath.Join(w.dir, w.subdir, name))
	if err != nil {
		return err
	}
	fw, err := pqarrow.NewFileWriter(w.schema, f, w.parquetProps(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		f.Abort()
		return fmt.Errorf("open parquet writer %s: %w", name, err)
	}
	for _, kv := range w.meta {
		if err := fw.AppendKeyValueMetadata(kv[0], kv[1]); err != nil {
			f.Abort()
			return fmt.Errorf("metadata %s: %w", name, err)
		}
	}
	w.file, w.fw = f, fw
	return nil
}

func (w *ShardWriter) parquetProps() *parquet.WriterProperties {
	codec := map[string]compress.Compression{
		"zstd": compress.Codecs.Zstd, "snappy": compress.Codecs.Snappy,
		"gzip": compress.Codecs.Gzip, "none": compress.Codecs.Uncompressed,
	}[w.cfg.Compression]
	opts := []parquet.WriterProperty{
		parquet.WithCompression(codec),
		parquet.WithStats(true),
		parquet.WithCreatedBy("winnow " + Version),
		// Most columns are nearly all distinct (text, ids, message contents,
		// numeric signals): a dictionary there fills up, falls back to plain
		// and costs a fifth of the write time. Only the few repetitive
		// columns get one.
		parquet.WithDictionaryDefault(false),
		parquet.WithDictionaryFor(ColSource, true),
		parquet.WithDictionaryFor(ColMessages+".list.element.role", true),
		parquet.WithDictionaryFor(ColDropStage, true),
		parquet.WithDictionaryFor(ColDropReason, true),
		parquet.WithDictionaryFor("lang", true),
		// Min/max of whole documents say nothing and are dropped anyway
		// when over 4 KiB; computing them costs a comparison per row.
		parquet.WithStatsFor(ColText, false),
		parquet.WithStatsFor(ColMessages+".list.element.content", false),
	}
	if w.cfg.Compression == "zstd" {
		opts = append(opts, parquet.WithCompressionLevel(w.cfg.ZstdLevel))
	}
	return parquet.NewWriterProperties(opts...)
}

func (w *ShardWriter) closeShard() error {
	if w.fw == nil {
		return nil
	}
	if err := w.fw.Close(); err != nil {
		w.file.Abort()
		return fmt.Errorf("close %s: %w", w.file.final, err)
	}
	n, sum, err := w.file.Commit()
	if err != nil {
		return err
	}
	rel, _ := filepath.Rel(w.dir, w.file.final)
	w.Outputs = append(w.Outputs, OutputFile{Path: filepath.ToSlash(rel), Rows: w.rows, Bytes: n, SHA256: sum})
	w.fw, w.file = nil, nil
	w.index++
	w.bytes, w.rgBytes, w.rows = 0, 0, 0
	return nil
}

// Close finishes the last shard.
func (w *ShardWriter) Close() error {
	if err := w.closeShard(); err != nil {
		return err
	}
	if len(w.Outputs) == 0 {
		return nil
	}
	return SyncPath(filepath.Join(w.dir, w.subdir))
}

// Abort removes the shard being written.
func (w *ShardWriter) Abort() {
	if w.file != nil {
		w.file.Abort()
		w.fw, w.file = nil, nil
	}
}

// recordBytes is the size of a record's Arrow buffers: the measure of
// shard and row-group sizes, cheap and independent of compression.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += dataBytes(c.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}
