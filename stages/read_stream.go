// The byte-stream plumbing under the readers: compression, the sniffed
// head of a file, and error tagging.

package stages

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// decompress wraps r in the codec's reader. The returned func releases it.
// gzip reads concatenated members (multistream), as gunzip does.
func (fr *fileReader) decompress(codec string, r io.Reader) (io.Reader, func(), error) {
	switch codec {
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip header: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case "zstd":
		d, err := fr.zstdDecoder()
		if err != nil {
			return nil, nil, err
		}
		if err := d.Reset(r); err != nil {
			fr.zstd.Put(d)
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return d, func() {
			_ = d.Reset(nil)
			fr.zstd.Put(d)
		}, nil
	}
	return r, func() {}, nil
}

// zstdDecoder takes a decoder from the pool: building one allocates its
// tables, and a run may read thousands of small .zst files. With a
// concurrency of 1 a decoder decodes on the caller's goroutine and owns no
// goroutines, so pooled decoders need no Close.
func (fr *fileReader) zstdDecoder() (*zstd.Decoder, error) {
	if d, ok := fr.zstd.Get().(*zstd.Decoder); ok {
		return d, nil
	}
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	return d, nil
}

// compressionOf decides the compression by extension or magic bytes, and
// returns the name with the compression extension removed. The magic wins
// over the extension; an extension without its magic still selects the
// codec, which then reports the stream as corrupt.
func compressionOf(name string, magic []byte) (codec, inner string) {
	ext := strings.ToLower(filepath.Ext(name))
	inner = name
	switch ext {
	case ".gz", ".gzip":
		codec, inner = "gzip", strings.TrimSuffix(name, name[len(name)-len(ext):])
	case ".zst", ".zstd":
		codec, inner = "zstd", strings.TrimSuffix(name, name[len(name)-len(ext):])
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		codec = "gzip"
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		codec = "zstd"
	}
	return codec, inner
}

// readHead reads up to len(buf) bytes into buf. The error is nil when buf
// was filled, io.EOF when the stream ended first, or the error that stopped it.
func readHead(r io.Reader, buf []byte) ([]byte, error) {
	n := len(buf)
	k := 0
	for k < n {
		m, err := r.Read(buf[k:])
		k += m
		if err != nil {
			return buf[:k], err
		}
	}
	return buf, nil
}

// tailReader is what follows the head: the rest of the stream, nothing
// (the head was all of it), or the error that cut the head short.
func tailReader(r io.Reader, headErr error) io.Reader {
	switch headErr {
	case nil:
		return r
	case io.EOF:
		return eofReader{}
	}
	return errReader{headErr}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// sourceError marks an error of the raw file stream (a disk error), as
// opposed to one of the decompressor.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

type sourceReader struct{ r io.Reader }

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = &sourceError{err}
	}
	return n, err
}

// countingReader counts the decompressed bytes, for truncation reports.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
