package trainer

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"winnow/pipeline"
)

// Doc is one document of a shard, with the columns sampling reads.
type Doc struct {
	ID, Text, Lang, Source string
	Quality                float64
	HasQuality             bool
	DupClusterSize         int64
}

// ShardFiles resolves a --shards argument: a finished run directory (its
// shards/; refused without manifest.json, which a run writes last), a
// directory of .parquet files, or one .parquet file.
func ShardFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, errorf(KindIO, err, "shards")
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	dir := p
	if sub := filepath.Join(p, "shards"); isDir(sub) {
		if _, err := os.Stat(filepath.Join(p, "manifest.json")); err != nil {
			return nil, errorf(KindIO, nil, "%s is not a finished winnow run (no manifest.json)", p)
		}
		dir = sub
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.parquet"))
	if err != nil {
		return nil, errorf(KindIO, err, "list %s", dir)
	}
	if len(files) == 0 {
		return nil, errorf(KindIO, nil, "no .parquet shards in %s", dir)
	}
	sort.Strings(files)
	return files, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// EachDoc calls fn with every document of the shards in order. A shard that
// cannot be read, or has no text column, is a KindData error naming it.
func EachDoc(ctx context.Context, shards []string, fn func(Doc) error) error {
	for _, path := range shards {
		err := pipeline.EachRecord(ctx, path, func(rec arrow.RecordBatch) error {
			return eachRow(rec, fn)
		})
		if err != nil {
			var e *Error
			if errors.As(err, &e) || ctx.Err() != nil {
				return err
			}
			return errorf(KindData, err, "shard %s", path)
		}
	}
	return nil
}

var errNoText = errors.New("no string column text")

func eachRow(rec arrow.RecordBatch, fn func(Doc) error) error {
	col := func(name string) arrow.Array {
		if idx := rec.Schema().FieldIndices(name); len(idx) > 0 {
			return rec.Column(idx[0])
		}
		return nil
	}
	text, ok := col(pipeline.ColText).(*array.String)
	if !ok {
		return errNoText
	}
	ids, _ := col(pipeline.ColID).(*array.String)
	langs, _ := col("lang").(*array.String)
	sources, _ := col(pipeline.ColSource).(*array.String)
	quality, dupSize := col("quality_score"), col("dup_cluster_size")
	for i := 0; i < int(rec.NumRows()); i++ {
		if text.IsNull(i) {
			continue
		}
		d := Doc{Text: text.Value(i), ID: str(ids, i), Lang: str(langs, i), Source: str(sources, i), DupClusterSize: 1}
		d.Quality, d.HasQuality = pipeline.NumberAt(quality, i)
		if n, ok := pipeline.NumberAt(dupSize, i); ok {
			d.DupClusterSize = int64(n)
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

func str(a *array.String, i int) string {
	if a == nil || a.IsNull(i) {
		return ""
	}
	return a.Value(i)
}

// DataSpec says where a run's documents come from and how they are split.
type DataSpec struct {
	Shards      []string `json:"shards"`
	EvalShards  []string `json:"eval_shards,omitempty"` // held-out shards: all validation, none trained on
	ValFraction float64  `json:"val_fraction"`          // without EvalShards: by a hash of the id
	Sampling    Sampling `json:"sampling"`
}

// DocsInfo is docs.json: the spec and what came out of it.
type DocsInfo struct {
	Spec           DataSpec `json:"spec"`
	TrainDocs      int64    `json:"train_docs"`   // distinct documents
	TrainCopies    int64    `json:"train_copies"` // after sampling weights
	TrainBytes     int64    `json:"train_bytes"`
	ValDocs        int64    `json:"val_docs"`
	ValBytes       int64    `json:"val_bytes"`
	Dropped        int64    `json:"dropped"`        // weight rounded to zero copies
	Decontaminated int64    `json:"decontaminated"` // training documents whose text is in the held-out shards
	SHA256         string   `json:"sha256"`         // of the sha256 digests of train.jsonl and val.jsonl
}

// isVal decides the split by the id (the text when there is none), so a
// document stays on its side whatever else the shards hold.
func isVal(d Doc, fraction float64) bool {
	key := d.ID
	if key == "" {
		key = d.Text
	}
	return unitHash("val", key) < fraction
}

// writeDocs streams the shards into dir/train.jsonl and dir/val.jsonl
// (written under temporary names, renamed when complete).
func writeDocs(ctx context.Context, dir string, spec DataSpec) (DocsInfo, error) {
	info := DocsInfo{Spec: spec}
	train, err := newDocWriter(filepath.Join(dir, "train.jsonl"))
	if err != nil {
		return info, err
	}
	defer train.abort()
	val, err := newDocWriter(filepath.Join(dir, "val.jsonl"))
	if err != nil {
		return info, err
	}
	defer val.abort()
	held := map[[sha256.Size]byte]bool{}
	if len(spec.EvalShards) > 0 {
		err = EachDoc(ctx, spec.EvalShards, func(d Doc) error {
			held[sha256.Sum256([]byte(d.Text))] = true
			info.ValDocs++
			info.ValBytes += int64(len(d.Text))
			return val.write(d.Text, 1)
		})
		if err != nil {
			return info, err
		}
	}
	err = EachDoc(ctx, spec.Shards, func(d Doc) error {
		switch {
		case len(spec.EvalShards) > 0 && held[sha256.Sum256([]byte(d.Text))]:
			info.Decontaminated++
			return nil
		case len(spec.EvalShards) == 0 && isVal(d, spec.ValFraction):
			info.ValDocs++
			info.ValBytes += int64(len(d.Text))
			return val.write(d.Text, 1)
		}
		n := spec.Sampling.Copies(d)
		if n == 0 {
			info.Dropped++
			return nil
		}
		info.TrainDocs++
		info.TrainCopies += int64(n)
		info.TrainBytes += int64(n * len(d.Text))
		return train.write(d.Text, n)
	})
	if err != nil {
		return info, err
	}
	if info.TrainDocs == 0 || info.ValDocs == 0 {
		return info, &Error{Kind: KindData, Msg: fmt.Sprintf("%d training and %d validation documents: need both", info.TrainDocs, info.ValDocs),
			Hint: "give more shards, change --val-fraction or the sampling weights, or give --eval-shards"}
	}
	h := sha256.New()
	for _, w := range []*docWriter{train, val} {
		if err := w.commit(h); err != nil {
			return info, err
		}
	}
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	return info, nil
}

// docWriter writes one documents file: a JSON object a line.
type docWriter struct {
	path string
	f    *os.File
	w    *bufio.Writer
	h    hash.Hash
}

func newDocWriter(path string) (*docWriter, error) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return nil, errorf(KindIO, err, "create")
	}
	h := sha256.New()
	return &docWriter{path: path, f: f, w: bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20), h: h}, nil
}

type docLine struct {
	Text string `json:"text"`
	N    int    `json:"n,omitempty"`
}

func (w *docWriter) write(text string, n int) error {
	line := docLine{Text: text}
	if n > 1 {
		line.N = n
	}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	if _, err := w.w.Write(append(b, '\n')); err != nil {
		return errorf(KindIO, err, "write %s", w.path)
	}
	return nil
}

// commit flushes, syncs and renames the file into place, and adds its
// sha256 to h.
func (w *docWriter) commit(h io.Writer) error {
	if err := w.w.Flush(); err != nil {
		return errorf(KindIO, err, "write %s", w.path)
	}
	if err := w.f.Sync(); err != nil {
		return errorf(KindIO, err, "sync %s", w.path)
	}
	if err := w.f.Close(); err != nil {
		return errorf(KindIO, err, "close %s", w.path)
	}
	w.f = nil
	h.Write(w.h.Sum(nil))
	if err := os.Rename(w.path+".tmp", w.path); err != nil {
		return errorf(KindIO, err, "rename %s", w.path)
	}
	return nil
}

// abort removes an uncommitted file.
func (w *docWriter) abort() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.path + ".tmp")
	}
}
