package dedup

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func writeFixed(t *testing.T, path string, size int, recs [][]byte) {
	t.Helper()
	w, err := CreateFixed(path, size)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if w.Count() != uint64(len(recs)) {
		t.Errorf("Count %d, want %d", w.Count(), len(recs))
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s visible before Close: %v", path, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func randomRecords(rng *rand.Rand, n, size int) [][]byte {
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = make([]byte, size)
		for j := range recs[i] {
			recs[i][j] = byte(rng.Uint32())
		}
	}
	return recs
}

func TestFixedRoundTrip(t *testing.T) {
	tests := []struct {
		name        string
		size, count int
	}{
		{"empty", 8, 0},
		{"one byte records", 1, 300},
		{"one record", 448, 1},
		{"signatures 112x4", 448, 1000},
		{"odd size", 13, 777},
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.fx")
			recs := randomRecords(rng, tt.count, tt.size)
			writeFixed(t, path, tt.size, recs)
			r, err := OpenFixed(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Size() != tt.size || r.Count() != uint64(tt.count) {
				t.Fatalf("Size %d Count %d, want %d %d", r.Size(), r.Count(), tt.size, tt.count)
			}
			dst := make([]byte, tt.size)
			for _, i := range rng.Perm(tt.count) {
				if err := r.Read(uint64(i), dst); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(dst, recs[i]) {
					t.Fatalf("record %d differs", i)
				}
			}
			err = r.Read(uint64(tt.count), dst)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "out of range") {
				t.Errorf("Read past the end: %v", err)
			}
		})
	}
}

func TestFixedReadNoAlloc(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.fx")
	writeFixed(t, path, 32, randomRecords(rand.New(rand.NewPCG(1, 1)), 100, 32))
	r, err := OpenFixed(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dst := make([]byte, 32)
	i := uint64(0)
	if allocs := testing.AllocsPerRun(200, func() {
		if err := r.Read(i%100, dst); err != nil {
			t.Fatal(err)
		}
		i += 7
	}); allocs != 0 {
		t.Errorf("Read allocates %.1f times per call", allocs)
	}
}

func TestFixedConcurrentReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.fx")
	recs := randomRecords(rand.New(rand.NewPCG(2, 2)), 500, 24)
	writeFixed(t, path, 24, recs)
	r, err := OpenFixed(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			dst := make([]byte, 24)
			for i := g; i < len(recs); i += 4 {
				if err := r.Read(uint64(i), dst); err != nil || !bytes.Equal(dst, recs[i]) {
					t.Errorf("goroutine %d record %d: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestFixedMisuse(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, -1, maxFixedSize + 1} {
		if _, err := CreateFixed(filepath.Join(dir, "x"), size); err == nil {
			t.Errorf("record size %d: no error", size)
		}
	}
	path := filepath.Join(dir, "f.fx")
	w, err := CreateFixed(path, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append([]byte{1, 2, 3}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("short record: %v", err)
	}
	w.Append([]byte{1, 2, 3, 4})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Error("second Close: no error")
	}
	if err := w.Append([]byte{1, 2, 3, 4}); err == nil {
		t.Error("Append after Close: no error")
	}
	r, err := OpenFixed(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Count() != 1 {
		t.Errorf("Count %d after a rejected Append, want 1", r.Count())
	}
	if err := r.Read(0, make([]byte, 5)); err == nil {
		t.Error("Read into a wrong-size buffer: no error")
	}
}

func TestFixedCorrupt(t *testing.T) {
	tests := []struct {
		name    string
		mangle  func([]byte) []byte
		want    string
		corrupt bool
	}{
		{"truncated record", func(d []byte) []byte { return d[:len(d)-1] }, "whole number", true},
		{"trailing byte", func(d []byte) []byte { return append(d, 0) }, "whole number", true},
		{"short header", func(d []byte) []byte { return d[:7] }, "header", true},
		{"empty file", func(d []byte) []byte { return nil }, "header", true},
		{"bad magic", func(d []byte) []byte { copy(d, "WNKD"); return d }, "magic", true},
		{"zero size", func(d []byte) []byte { binary.LittleEndian.PutUint32(d[8:], 0); return d }, "record size 0", true},
		{"new version", func(d []byte) []byte { binary.LittleEndian.PutUint32(d[4:], 9); return d }, "version 9", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.fx")
			writeFixed(t, path, 8, randomRecords(rand.New(rand.NewPCG(3, 3)), 4, 8))
			data, _ := os.ReadFile(path)
			os.WriteFile(path, tt.mangle(data), 0o644)
			r, err := OpenFixed(path)
			if err == nil {
				r.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s and %q", err, path, tt.want)
			}
			if errors.Is(err, ErrCorruptFile) != tt.corrupt {
				t.Errorf("errors.Is(%q, ErrCorruptFile) = %v", err, !tt.corrupt)
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "missing.fx")
	if _, err := OpenFixed(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
}

func TestStringsRoundTrip(t *testing.T) {
	long := strings.Repeat("長い文書", 40000)
	tests := []struct {
		name string
		strs []string
	}{
		{"none", nil},
		{"one empty", []string{""}},
		{"ids", []string{"doc-0", "", "文档-1", "x", "", "https://example.com/a?b=c"}},
		{"long", []string{"a", long, "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ids.str")
			w, err := CreateStrings(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.strs {
				if err := w.Append(s); err != nil {
					t.Fatal(err)
				}
			}
			if w.Count() != uint64(len(tt.strs)) {
				t.Errorf("writer Count %d", w.Count())
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := OpenStrings(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Count() != uint64(len(tt.strs)) {
				t.Fatalf("Count %d, want %d", r.Count(), len(tt.strs))
			}
			for i := len(tt.strs) - 1; i >= 0; i-- {
				if got, err := r.Get(uint64(i)); err != nil || got != tt.strs[i] {
					t.Fatalf("Get(%d) = %.20q, %v; want %.20q", i, got, err, tt.strs[i])
				}
			}
			_, err = r.Get(uint64(len(tt.strs)))
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "out of range") {
				t.Errorf("Get past the end: %v", err)
			}
		})
	}
}

func TestStringsCorrupt(t *testing.T) {
	tests := []struct {
		name   string
		mangle func(path string)
		want   string
	}{
		{"data truncated", func(p string) { os.Truncate(p, stringsHeaderSize+3) }, "index ends at byte 13, data has 3"},
		{"data bad magic", func(p string) { mangleFile(p, 0, 'Z') }, "magic"},
		{"index missing", func(p string) { os.Remove(p + stringsIndexExt) }, stringsIndexExt},
		{"data missing", func(p string) { os.Remove(p) }, "no such file"},
		{"index decreasing", func(p string) { mangleFile(p+stringsIndexExt, fixedHeaderSize+8, 200) }, "span"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ids.str")
			w, err := CreateStrings(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"abc", "defg", "hi", "jklm"} {
				w.Append(s)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			tt.mangle(path)
			r, err := OpenStrings(path)
			if err == nil {
				defer r.Close()
				for i := range r.Count() {
					if _, err = r.Get(i); err != nil {
						break
					}
				}
			}
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v does not name %s and %q", err, path, tt.want)
			}
		})
	}
}

func mangleFile(path string, off int64, b byte) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	f.WriteAt([]byte{b}, off)
}

func TestRecordIntCodecs(t *testing.T) {
	v32 := []uint32{0, 1, 0xdeadbeef, 1<<32 - 1}
	b := make([]byte, 16)
	PutUint32s(b, v32)
	if !bytes.Equal(b[4:8], []byte{1, 0, 0, 0}) {
		t.Errorf("not little-endian: %x", b)
	}
	got32 := make([]uint32, 4)
	Uint32s(b, got32)
	v64 := []uint64{1<<64 - 1, 42}
	PutUint64s(b, v64)
	got64 := make([]uint64, 2)
	Uint64s(b, got64)
	if got32[2] != v32[2] || got64[0] != v64[0] || got64[1] != 42 {
		t.Errorf("round trip: %v %v", got32, got64)
	}
	PutUint32s(nil, nil) // empty is fine
	defer func() {
		if recover() == nil {
			t.Error("short buffer did not panic")
		}
	}()
	PutUint64s(make([]byte, 15), v64)
}
