package stages

import (
	"compress/gzip"
	"fmt"
	"io"

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
