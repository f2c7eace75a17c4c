package dedup

// Side files indexed by document ordinal: MinHash signatures for candidate
// verification, and length, quality score and id for the keep policy. They
// are written once in ordinal order and read at random, so records are
// located by arithmetic (fixed size) or through an offsets file (strings),
// never by holding an index in memory.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// A fixed-record file is a 16-byte header (magic, uint32 version, uint32
// record size, 4 zero bytes) and then the records back to back; the count
// is implied by the file length, so appending needs no header rewrite.
const (
	fixedMagic      = "WNFX"
	fixedVersion    = 1
	fixedHeaderSize = 16
	maxFixedSize    = 1 << 20

	stringsMagic      = "WNST"
	stringsVersion    = 1
	stringsHeaderSize = 16 // magic, uint32 version, 8 zero bytes
	stringsIndexExt   = ".idx"
)

// atomicWork is a work file written under a temporary name and renamed on
// Close, so a side file that exists is complete. Work files are rebuilt
// after a crash, so there is no fsync.
type atomicWork struct {
	f     *os.File
	bw    *bufio.Writer
	final string
	err   error // sticky: the first write error, returned again by Close
}

func createWork(path string, header []byte) (*atomicWork, error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	w := &atomicWork{f: f, bw: bufio.NewWriterSize(f, 64<<10), final: path}
	if err := w.write(header); err != nil {
		w.abort()
		return nil, err
	}
	return w, nil
}

func (w *atomicWork) write(p []byte) error {
	if w.f == nil {
		return fmt.Errorf("write %s: %w", w.final, os.ErrClosed)
	}
	if w.err != nil {
		return w.err
	}
	if _, err := w.bw.Write(p); err != nil {
		w.err = fmt.Errorf("write %s: %w", w.final, err)
	}
	return w.err
}

func (w *atomicWork) commit() error {
	if w.f == nil {
		return fmt.Errorf("close %s: %w", w.final, os.ErrClosed)
	}
	if w.err != nil {
		w.abort()
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.abort()
		return fmt.Errorf("write %s: %w", w.final, err)
	}
	tmp := w.f.Name()
	err := w.f.Close()
	w.f = nil
	if err == nil {
		err = os.Rename(tmp, w.final)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", w.final, err)
	}
	return nil
}

func (w *atomicWork) abort() {
	if w.f == nil {
		return
	}
	w.f.Close()
	os.Remove(w.f.Name())
	w.f = nil
}

// FixedWriter appends fixed-size records; record i lands at offset
// header + i*size. The file appears under its name on Close.
type FixedWriter struct {
	w    *atomicWork
	size int
	n    uint64
}

func CreateFixed(path string, size int) (*FixedWriter, error) {
	if size < 1 || size > maxFixedSize {
		return nil, fmt.Errorf("create %s: record size %d out of range [1, %d]", path, size, maxFixedSize)
	}
	var h [fixedHeaderSize]byte
	copy(h[:4], fixedMagic)
	binary.LittleEndian.PutUint32(h[4:8], fixedVersion)
	binary.LittleEndian.PutUint32(h[8:12], uint32(size))
	w, err := createWork(path, h[:])
	if err != nil {
		return nil, err
	}
	return &FixedWriter{w: w, size: size}, nil
}

// Append writes the next record; len(rec) must be the record size.
func (w *FixedWriter) Append(rec []byte) error {
	if len(rec) != w.size {
		return fmt.Errorf("append to %s: record of %d bytes, want %d", w.w.final, len(rec), w.size)
	}
	if err := w.w.write(rec); err != nil {
		return err
	}
	w.n++
	return nil
}

// Count returns the number of records appended.
func (w *FixedWriter) Count() uint64 { return w.n }

// Close flushes the records and renames the file into place; after a failed
// Append it removes the temporary file and returns that failure.
func (w *FixedWriter) Close() error { return w.w.commit() }

// FixedReader reads records by index. Read uses ReadAt only, so one reader
// may serve many goroutines.
type FixedReader struct {
	f     *os.File
	path  string
	size  int
	count uint64
}

func OpenFixed(path string) (*FixedReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open fixed-record file: %w", err)
	}
	r := &FixedReader{f: f, path: path}
	if err := r.readHeader(); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func (r *FixedReader) readHeader() error {
	var h [fixedHeaderSize]byte
	if _, err := r.f.ReadAt(h[:], 0); err != nil {
		return fmt.Errorf("read %s header: %w: %w", r.path, ErrCorruptFile, err)
	}
	if string(h[:4]) != fixedMagic {
		return fmt.Errorf("read %s: %w: magic %q, want %q", r.path, ErrCorruptFile, h[:4], fixedMagic)
	}
	if v := binary.LittleEndian.Uint32(h[4:8]); v != fixedVersion {
		return fmt.Errorf("read %s: unsupported version %d (this build reads %d)", r.path, v, fixedVersion)
	}
	size := binary.LittleEndian.Uint32(h[8:12])
	if size < 1 || size > maxFixedSize {
		return fmt.Errorf("read %s: %w: record size %d out of range [1, %d]", r.path, ErrCorruptFile, size, maxFixedSize)
	}
	fi, err := r.f.Stat()
	if err != nil {
		return fmt.Errorf("read %s: %w", r.path, err)
	}
	body := uint64(fi.Size()) - fixedHeaderSize
	if body%uint64(size) != 0 {
		return fmt.Errorf("read %s: %w: %d bytes after the header are not a whole number of %d-byte records",
			r.path, ErrCorruptFile, body, size)
	}
	r.size, r.count = int(size), body/uint64(size)
	return nil
}

func (r *FixedReader) Size() int     { return r.size }
func (r *FixedReader) Count() uint64 { return r.count }
func (r *FixedReader) Close() error  { return r.f.Close() }

// Read copies record i into dst, which must be exactly the record size.
func (r *FixedReader) Read(i uint64, dst []byte) error {
	if len(dst) != r.size {
		return fmt.Errorf("read %s record %d: buffer of %d bytes, want %d", r.path, i, len(dst), r.size)
	}
	return r.readRecords(i, 1, dst)
}

// Each calls fn with every record in order, reading the file sequentially
// (one buffered stream instead of a pread per record). rec is reused.
func (r *FixedReader) Each(fn func(i uint64, rec []byte) error) error {
	br := bufio.NewReaderSize(io.NewSectionReader(r.f, fixedHeaderSize, int64(r.count)*int64(r.size)), 1<<16)
	rec := make([]byte, r.size)
	for i := range r.count {
		if _, err := io.ReadFull(br, rec); err != nil {
			return fmt.Errorf("read %s record %d: %w", r.path, i, err)
		}
		if err := fn(i, rec); err != nil {
			return err
		}
	}
	return nil
}

// readRecords reads n consecutive records starting at i into dst in one
// pread.
func (r *FixedReader) readRecords(i, n uint64, dst []byte) error {
	if i >= r.count || n > r.count-i {
		return fmt.Errorf("read %s record %d: out of range (%d records)", r.path, i+n-1, r.count)
	}
	if _, err := r.f.ReadAt(dst, int64(fixedHeaderSize+i*uint64(r.size))); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read %s record %d: %w", r.path, i, err)
	}
	return nil
}

// StringsWriter appends variable-length strings by ordinal: the bytes go to
// path, and path+".idx" is a fixed-record file of uint64 offsets starting
// with 0, so string i spans offsets i and i+1 and one pread finds both.
type StringsWriter struct {
	data *atomicWork
	idx  *FixedWriter
	pos  uint64
	off  [8]byte
}

func CreateStrings(path string) (*StringsWriter, error) {
	var h [stringsHeaderSize]byte
	copy(h[:4], stringsMagic)
	binary.LittleEndian.PutUint32(h[4:8], stringsVersion)
	data, err := createWork(path, h[:])
	if err != nil {
		return nil, err
	}
	idx, err := CreateFixed(path+stringsIndexExt, 8)
	if err == nil {
		err = idx.Append(make([]byte, 8))
	}
	if err != nil {
		data.abort()
		if idx != nil {
			idx.w.abort()
		}
		return nil, err
	}
	return &StringsWriter{data: data, idx: idx}, nil
}

func (w *StringsWriter) Append(s string) error {
	if err := w.data.write([]byte(s)); err != nil {
		return err
	}
	w.pos += uint64(len(s))
	binary.LittleEndian.PutUint64(w.off[:], w.pos)
	return w.idx.Append(w.off[:])
}

// Count returns the number of strings appended.
func (w *StringsWriter) Count() uint64 { return w.idx.Count() - 1 }

// Close renames the data file and then the index into place: a reader
// that finds the index finds complete data.
func (w *StringsWriter) Close() error {
	if err := w.data.commit(); err != nil {
		w.idx.w.abort()
		return err
	}
	return w.idx.Close()
}

// StringsReader reads strings by ordinal; Get uses ReadAt only, so one
// reader may serve many goroutines.
type StringsReader struct {
	data    *os.File
	path    string
	idx     *FixedReader
	dataLen uint64 // bytes after the header
}

func OpenStrings(path string) (*StringsReader, error) {
	idx, err := OpenFixed(path + stringsIndexExt)
	if err != nil {
		return nil, err
	}
	r := &StringsReader{path: path, idx: idx}
	if err := r.open(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *StringsReader) open() error {
	if r.idx.Size() != 8 || r.idx.Count() == 0 {
		return fmt.Errorf("read %s: %w: index has %d records of %d bytes, want at least 1 of 8",
			r.idx.path, ErrCorruptFile, r.idx.Count(), r.idx.Size())
	}
	f, err := os.Open(r.path)
	if err != nil {
		return fmt.Errorf("open strings file: %w", err)
	}
	r.data = f
	var h [stringsHeaderSize]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return fmt.Errorf("read %s header: %w: %w", r.path, ErrCorruptFile, err)
	}
	if string(h[:4]) != stringsMagic {
		return fmt.Errorf("read %s: %w: magic %q, want %q", r.path, ErrCorruptFile, h[:4], stringsMagic)
	}
	if v := binary.LittleEndian.Uint32(h[4:8]); v != stringsVersion {
		return fmt.Errorf("read %s: unsupported version %d (this build reads %d)", r.path, v, stringsVersion)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read %s: %w", r.path, err)
	}
	r.dataLen = uint64(fi.Size()) - stringsHeaderSize
	var last [8]byte
	if err := r.idx.Read(r.idx.Count()-1, last[:]); err != nil {
		return err
	}
	if end := binary.LittleEndian.Uint64(last[:]); end != r.dataLen {
		return fmt.Errorf("read %s: %w: index ends at byte %d, data has %d", r.path, ErrCorruptFile, end, r.dataLen)
	}
	return nil
}

// Count returns the number of strings.
func (r *StringsReader) Count() uint64 { return r.idx.Count() - 1 }

// Each calls fn with every string in order, reading both files
// sequentially.
func (r *StringsReader) Each(fn func(i uint64, s string) error) error {
	data := bufio.NewReaderSize(io.NewSectionReader(r.data, stringsHeaderSize, int64(r.dataLen)), 1<<16)
	var prev uint64
	var buf []byte
	return r.idx.Each(func(i uint64, rec []byte) error {
		end := binary.LittleEndian.Uint64(rec)
		if i == 0 {
			return nil // offset 0
		}
		if end < prev || end > r.dataLen {
			return fmt.Errorf("read %s string %d: %w: span [%d, %d) outside %d data bytes", r.path, i-1, ErrCorruptFile, prev, end, r.dataLen)
		}
		buf = slices.Grow(buf[:0], int(end-prev))[:end-prev]
		if _, err := io.ReadFull(data, buf); err != nil {
			return fmt.Errorf("read %s string %d: %w", r.path, i-1, err)
		}
		prev = end
		return fn(i-1, string(buf))
	})
}

// Get returns string i.
func (r *StringsReader) Get(i uint64) (string, error) {
	if i >= r.Count() {
		return "", fmt.Errorf("read %s string %d: out of range (%d strings)", r.path, i, r.Count())
	}
	var span [16]byte
	if err := r.idx.readRecords(i, 2, span[:]); err != nil {
		return "", err
	}
	start, end := binary.LittleEndian.Uint64(span[:8]), binary.LittleEndian.Uint64(span[8:])
	if start > end || end > r.dataLen {
		return "", fmt.Errorf("read %s string %d: %w: span [%d, %d) outside %d data bytes",
			r.path, i, ErrCorruptFile, start, end, r.dataLen)
	}
	buf := make([]byte, end-start)
	if _, err := r.data.ReadAt(buf, int64(stringsHeaderSize+start)); err != nil {
		return "", fmt.Errorf("read %s string %d: %w", r.path, i, err)
	}
	return string(buf), nil
}

func (r *StringsReader) Close() error {
	err := r.idx.Close()
	if r.data != nil {
		err = errors.Join(err, r.data.Close())
	}
	return err
}

// PutUint32s writes v little-endian into dst, which must hold 4*len(v)
// bytes: the on-disk form of a 32-bit signature.
func PutUint32s(dst []byte, v []uint32) {
	mustHold(dst, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(dst[4*i:], x)
	}
}

// Uint32s decodes len(v) little-endian uint32s from src.
func Uint32s(src []byte, v []uint32) {
	mustHold(src, 4*len(v))
	for i := range v {
		v[i] = binary.LittleEndian.Uint32(src[4*i:])
	}
}

// PutUint64s writes v little-endian into dst, which must hold 8*len(v) bytes.
func PutUint64s(dst []byte, v []uint64) {
	mustHold(dst, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(dst[8*i:], x)
	}
}

// Uint64s decodes len(v) little-endian uint64s from src.
func Uint64s(src []byte, v []uint64) {
	mustHold(src, 8*len(v))
	for i := range v {
		v[i] = binary.LittleEndian.Uint64(src[8*i:])
	}
}

func mustHold(b []byte, n int) {
	if len(b) < n {
		panic(fmt.Sprintf("dedup: buffer of %d bytes, need %d", len(b), n))
	}
}
