package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// rawBatch is a batch of documents as read, before it becomes Arrow columns
// in a worker (so the reading goroutine does as little as possible).
type rawBatch struct {
	seq     int64
	docs    []Doc
	sources []string
	bytes   int64
	// staged is set instead of docs when a pass reads the rows its
	// predecessor staged: they are already a batch.
	staged *Batch
}

// readAll reads every input file in listing order, cutting the documents
// into batches numbered in order, and writes each file's bad records to
// quarantine/. It owns the manifest's input list. Batches up to skip were
// written by an earlier attempt: they are read and cut, not sent.
func (r *run) readAll(ctx context.Context, work chan<- rawBatch, skip int64) error {
	c := &collector{ctx: ctx, cfg: r.cfg.Input, out: work, progress: r.progress, skip: skip}
	for _, f := range r.inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := r.readFile(ctx, c, f)
		if err != nil {
			return err
		}
		r.manifest.Inputs = append(r.manifest.Inputs, rec)
		r.progress.FilesDone.Add(1)
	}
	return c.flush()
}

func (r *run) readFile(ctx context.Context, c *collector, f InputFile) (InputRecord, error) {
	rec := InputRecord{Path: f.Path, Source: f.Rel, Size: f.Size, Bad: map[string]int64{}}
	q := &quarantineWriter{dir: r.dir}
	c.startFile(f, q)
	file, err := os.Open(f.Path)
	if err != nil {
		kind := BadIO
		if errors.Is(err, os.ErrNotExist) {
			kind = BadVanished
		}
		c.Bad(BadRecord{Kind: kind, Offset: -1, ByteOffset: -1, Err: err.Error()})
	} else {
		if fi, err := file.Stat(); err == nil {
			rec.Size, rec.MTime = fi.Size(), fi.ModTime().UTC()
		}
		hash := sha256.New()
		tee := &countingReader{r: io.TeeReader(file, hash), progress: r.progress}
		readErr := r.reader.ReadFile(ctx, f, tee, c)
		if readErr == nil && tee.err == nil {
			// Hash what the reader did not need to read. After a read
			// error the reader has quarantined it already.
			if _, err := io.Copy(io.Discard, tee); err != nil {
				c.Bad(BadRecord{Kind: BadIO, Offset: -1, ByteOffset: tee.n, Err: fmt.Sprintf("read rest of file: %v", err)})
			}
		}
		file.Close()
		if readErr != nil {
			q.abort() // the file is read again by the next run, bad records included
			return rec, readErr
		}
		if tee.err == nil { // a file that could not be read whole has no checksum
			rec.SHA256 = hex.EncodeToString(hash.Sum(nil))
		}
	}
	if c.err != nil {
		return rec, c.err
	}
	rec.Docs, rec.Quarantined = c.fileDocs, c.fileBad
	for k, n := range c.fileKinds {
		rec.Bad[k] = n
	}
	out, err := q.commit(c.fileBad)
	if err != nil {
		return rec, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	if out != nil {
		r.quarOut = append(r.quarOut, *out)
	}
	return rec, nil
}

// countingReader counts the bytes read from an input file, for progress,
// and keeps the first read error.
type countingReader struct {
	r        io.Reader
	n        int64
	err      error
	progress *Progress
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.progress.BytesRead.Add(int64(n))
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// collector is the Emitter readers write to: it cuts batches and routes bad
// records to the current file's quarantine.
type collector struct {
	ctx  context.Context
	cfg  InputConfig
	out  chan<- rawBatch
	seq  int64
	cur  rawBatch
	err  error
	file InputFile
	q    *quarantineWriter

	progress *Progress
	skip     int64 // the last batch not to send

	fileDocs, fileBad int64
	fileKinds         map[string]int64
}

func (c *collector) startFile(f InputFile, q *quarantineWriter) {
	c.file, c.q = f, q
	c.fileDocs, c.fileBad = 0, 0
	c.fileKinds = map[string]int64{}
}

// Doc adds a document to the current batch, sending the batch on when it is full.
func (c *collector) Doc(d Doc) error {
	if c.err != nil {
		return c.err
	}
	n := int64(len(d.Text))
	if len(c.cur.docs) > 0 && c.cur.bytes+n > c.cfg.BatchBytes {
		if err := c.flush(); err != nil {
			return err
		}
	}
	c.cur.docs = append(c.cur.docs, d)
	c.cur.sources = append(c.cur.sources, c.file.Rel)
	c.cur.bytes += n
	c.fileDocs++
	c.progress.DocsRead.Add(1)
	if len(c.cur.docs) >= c.cfg.BatchDocs || c.cur.bytes >= c.cfg.BatchBytes {
		return c.flush()
	}
	return nil
}

// Bad sends a record to quarantine.
func (c *collector) Bad(b BadRecord) {
	c.fileBad++
	c.fileKinds[b.Kind]++
	c.progress.Quarantined.Add(1)
	c.q.add(c.file, b)
}

func (c *collector) flush() error {
	if len(c.cur.docs) == 0 {
		return nil
	}
	c.cur.seq = c.seq
	if c.seq <= c.skip {
		c.seq++
		c.cur = rawBatch{}
		return nil
	}
	select {
	case c.out <- c.cur:
	case <-c.ctx.Done():
		c.err = c.ctx.Err()
		return c.err
	}
	c.seq++
	c.cur = rawBatch{}
	return nil
}
