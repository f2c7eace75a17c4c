package dedup

// LSH candidate search over a corpus larger than memory: every document
// contributes one (band key, ordinal) record per band; the records are
// buffered within a budget, sorted and spilled to run files, then merged per
// band so equal keys come out adjacent. Memory is the spill budget while
// writing and one read buffer per merged run while reading, never the corpus.

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
)

// A run file is a 16-byte header (magic, uint32 version, uint64 record
// count) and then count records of 16 bytes, little-endian Key then Doc,
// sorted by (Key, Doc). The count in the header lets a reader tell a
// truncated file from a complete one before it merges anything.
const (
	runMagic      = "WNKD"
	runVersion    = 1
	runHeaderSize = 16
	keyDocSize    = 16

	// Below these the spiller would write a run file every few records.
	minSpillBudget = 4 << 10
	minBandRecords = 64
	// Band buffers start this small and double up to their share of the
	// budget, so a small corpus never allocates a large budget.
	firstBandRecords = 4096

	runBufSize      = 64 << 10
	defaultMaxFanIn = 64
)

// ErrCorruptFile is wrapped by every error about a work file whose header,
// length or order is not what its writer produced.
var ErrCorruptFile = errors.New("corrupt or truncated work file")

// KeyDoc is one band record: a band key and the ordinal of the document it
// belongs to. 16 bytes on disk, little-endian Key then Doc.
type KeyDoc struct{ Key, Doc uint64 }

func compareKeyDoc(a, b KeyDoc) int {
	if c := cmp.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	return cmp.Compare(a.Doc, b.Doc)
}

// radixCutoff is the bucket size below which comparison sorting beats
// another radix pass.
const radixCutoff = 2048

// sortKeyDocs sorts by (Key, Doc) in place, without scratch memory that the
// budget would have to pay for. Band keys are hashes, so an in-place radix
// pass on the top byte of Key (American flag sort) leaves 256 buckets of
// near-equal size; sorting was 80% of spilling with a comparison sort alone.
// Recursion is at most 8 levels, one per byte of Key.
func sortKeyDocs(a []KeyDoc, shift uint) {
	if len(a) <= radixCutoff {
		slices.SortFunc(a, compareKeyDoc)
		return
	}
	var count, next [256]int
	for _, r := range a {
		count[byte(r.Key>>shift)]++
	}
	sum := 0
	for b, c := range count {
		next[b] = sum
		sum += c
	}
	end := 0
	for b := range 256 {
		end += count[b]
		for next[b] < end {
			r := a[next[b]]
			for d := byte(r.Key >> shift); int(d) != b; d = byte(r.Key >> shift) {
				a[next[d]], r = r, a[next[d]]
				next[d]++
			}
			a[next[b]] = r
			next[b]++
		}
	}
	start := 0
	for _, c := range count {
		bucket := a[start : start+c]
		start += c
		if shift == 0 {
			slices.SortFunc(bucket, compareKeyDoc) // equal keys: order by Doc
		} else {
			sortKeyDocs(bucket, shift-8)
		}
	}
}

// MinSpillBudget is the smallest budget NewBandSpiller accepts for bands.
func MinSpillBudget(bands int) int64 {
	return max(int64(minSpillBudget), int64(bands)*minBandRecords*keyDocSize)
}

// BandSpiller buffers KeyDoc records for a number of bands within a memory
// budget and spills each band's buffer as a sorted run file when the band's
// share of the budget is full. It is used by one goroutine.
//
// Each band gets an equal share (budget/16/bands records): MinHash gives
// every document one record in every band, so the bands fill in step, and a
// fixed share keeps the total bounded without any cross-band accounting.
type BandSpiller struct {
	dir    string
	share  int // records per band buffer
	bufs   [][]KeyDoc
	runs   [][]string
	spills int
	bw     *bufio.Writer // reused by every run file
	done   bool
	synced []int // per band, the runs synced by a checkpoint
}

// NewBandSpiller creates dir if needed and returns a spiller writing
// dir/band-%03d/run-%06d.kd. dir must be empty: a run left over from an
// earlier attempt with another budget would otherwise sit beside the new
// ones, and the caller is the one who knows whether it may be removed.
func NewBandSpiller(dir string, bands int, budgetBytes int64) (*BandSpiller, error) {
	if bands < 1 {
		return nil, fmt.Errorf("band spiller: %d bands, need at least 1", bands)
	}
	if need := MinSpillBudget(bands); budgetBytes < need {
		return nil, fmt.Errorf("band spiller: budget %d bytes is too small for %d bands (need at least %d)",
			budgetBytes, bands, need)
	}
	if err := ensureEmptyDir(dir); err != nil {
		return nil, err
	}
	return &BandSpiller{
		dir:   dir,
		share: int(budgetBytes / keyDocSize / int64(bands)),
		bufs:  make([][]KeyDoc, bands),
		runs:  make([][]string, bands),
	}, nil
}

func ensureEmptyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("band spiller: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("band spiller: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && err != io.EOF {
		return fmt.Errorf("band spiller: read %s: %w", dir, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("band spiller: %s is not empty (holds %s); remove it first", dir, names[0])
	}
	return nil
}

// Add buffers one record of a band, spilling that band's buffer first when
// it is full.
func (s *BandSpiller) Add(band int, r KeyDoc) error {
	if band < 0 || band >= len(s.bufs) {
		return s.badBand(band)
	}
	b := s.bufs[band]
	if len(b) == cap(b) {
		var err error
		if b, err = s.makeRoom(band); err != nil {
			return err
		}
	}
	s.bufs[band] = append(b, r)
	return nil
}

func (s *BandSpiller) badBand(band int) error {
	if s.done {
		return errors.New("band spiller: Add after Finish")
	}
	return fmt.Errorf("band spiller: band %d out of range [0, %d)", band, len(s.bufs))
}

// makeRoom grows a band's buffer geometrically (never past its share) or,
// once it holds its share, spills it and reuses the same backing array.
func (s *BandSpiller) makeRoom(band int) ([]KeyDoc, error) {
	b := s.bufs[band]
	if cap(b) < s.share {
		grown := make([]KeyDoc, len(b), min(s.share, max(2*cap(b), firstBandRecords)))
		copy(grown, b)
		return grown, nil
	}
	if err := s.spill(band); err != nil {
		return nil, err
	}
	return s.bufs[band], nil
}

func (s *BandSpiller) spill(band int) error {
	sortKeyDocs(s.bufs[band], 56)
	return s.write(band)
}

// write writes band's sorted buffer as its next run file.
func (s *BandSpiller) write(band int) error {
	b := s.bufs[band]
	bandDir := filepath.Join(s.dir, fmt.Sprintf("band-%03d", band))
	if len(s.runs[band]) == 0 {
		if err := os.MkdirAll(bandDir, 0o755); err != nil {
			return fmt.Errorf("band spiller: %w", err)
		}
	}
	path := filepath.Join(bandDir, fmt.Sprintf("run-%06d.kd", len(s.runs[band])))
	if s.bw == nil {
		s.bw = bufio.NewWriterSize(nil, runBufSize)
	}
	if err := writeRun(path, b, s.bw); err != nil {
		return err
	}
	s.runs[band] = append(s.runs[band], path)
	s.spills++
	s.bufs[band] = b[:0]
	return nil
}

// Finish spills what is buffered and returns the run files per band, in the
// order written (which is also name order). A band that never got a record
// has no runs. After Finish the spiller holds no buffers.
func (s *BandSpiller) Finish() ([][]string, error) {
	if s.done {
		return nil, errors.New("band spiller: Finish called twice")
	}
	// The last buffers of all bands are sorted at once, one band per core:
	// sorting is most of Finish, and the bands are independent.
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for band := range next {
				sortKeyDocs(s.bufs[band], 56)
			}
		})
	}
	for band := range s.bufs {
		next <- band
	}
	close(next)
	wg.Wait()
	for band, b := range s.bufs {
		if len(b) == 0 {
			continue
		}
		if err := s.write(band); err != nil {
			return nil, err
		}
	}
	s.done = true
	s.bufs, s.bw = nil, nil
	return s.runs, nil
}

// Spills reports how many run files the spiller has written.
func (s *BandSpiller) Spills() int { return s.spills }

func writeRun(path string, recs []KeyDoc, bw *bufio.Writer) error {
	w, err := createRun(path, uint64(len(recs)), bw)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := w.write(r); err != nil {
			w.abort()
			return err
		}
	}
	return w.commit()
}

// runWriter writes one run file under a temporary name and renames it into
// place on commit, so a run file that exists is complete. Work files are
// rebuilt after a crash, so there is no fsync.
type runWriter struct {
	f       *os.File
	final   string
	bw      *bufio.Writer
	want, n uint64
	rec     [keyDocSize]byte
}

func createRun(path string, count uint64, bw *bufio.Writer) (*runWriter, error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create run %s: %w", path, err)
	}
	if bw == nil {
		bw = bufio.NewWriterSize(f, runBufSize)
	} else {
		bw.Reset(f)
	}
	w := &runWriter{f: f, final: path, bw: bw, want: count}
	var h [runHeaderSize]byte
	copy(h[:4], runMagic)
	binary.LittleEndian.PutUint32(h[4:8], runVersion)
	binary.LittleEndian.PutUint64(h[8:16], count)
	if _, err := bw.Write(h[:]); err != nil {
		w.abort()
		return nil, fmt.Errorf("write run %s: %w", path, err)
	}
	return w, nil
}

func (w *runWriter) write(r KeyDoc) error {
	binary.LittleEndian.PutUint64(w.rec[:8], r.Key)
	binary.LittleEndian.PutUint64(w.rec[8:], r.Doc)
	if _, err := w.bw.Write(w.rec[:]); err != nil {
		return fmt.Errorf("write run %s: %w", w.final, err)
	}
	w.n++
	return nil
}

// commitWritten commits a run whose count was only an upper bound (an
// index band leaves retracted documents out): the header gets the count
// of records written.
func (w *runWriter) commitWritten() error {
	if err := w.bw.Flush(); err != nil {
		w.abort()
		return fmt.Errorf("write run %s: %w", w.final, err)
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], w.n)
	if _, err := w.f.WriteAt(n[:], 8); err != nil {
		w.abort()
		return fmt.Errorf("write run %s: %w", w.final, err)
	}
	w.want = w.n
	return w.commit()
}

func (w *runWriter) commit() error {
	if w.n != w.want {
		w.abort()
		return fmt.Errorf("write run %s: wrote %d records, header says %d", w.final, w.n, w.want)
	}
	if err := w.bw.Flush(); err != nil {
		w.abort()
		return fmt.Errorf("write run %s: %w", w.final, err)
	}
	w.bw.Reset(nil)
	tmp := w.f.Name()
	if err := w.f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write run %s: %w", w.final, err)
	}
	if err := os.Rename(tmp, w.final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write run %s: %w", w.final, err)
	}
	return nil
}

func (w *runWriter) abort() {
	w.bw.Reset(nil)
	w.f.Close()
	os.Remove(w.f.Name())
}

// runReader streams one run file and checks, record by record, that it is
// sorted: a merge of an unsorted run would silently miss candidate pairs.
type runReader struct {
	path  string
	f     *os.File
	br    *bufio.Reader
	count uint64 // records in the file
	next  uint64 // index of the next record to read
	cur   KeyDoc
	ord   int // position among the merge inputs; breaks ties so order never depends on the heap
	rec   [keyDocSize]byte
}

func openRun(path string) (*runReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open run: %w", err)
	}
	r := &runReader{path: path, f: f, br: bufio.NewReaderSize(f, runBufSize)}
	if err := r.readHeader(); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func (r *runReader) readHeader() error {
	var h [runHeaderSize]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return fmt.Errorf("read run %s header: %w: %w", r.path, ErrCorruptFile, err)
	}
	if string(h[:4]) != runMagic {
		return fmt.Errorf("read run %s: %w: magic %q, want %q", r.path, ErrCorruptFile, h[:4], runMagic)
	}
	if v := binary.LittleEndian.Uint32(h[4:8]); v != runVersion {
		return fmt.Errorf("read run %s: unsupported version %d (this build reads %d)", r.path, v, runVersion)
	}
	r.count = binary.LittleEndian.Uint64(h[8:16])
	fi, err := r.f.Stat()
	if err != nil {
		return fmt.Errorf("read run %s: %w", r.path, err)
	}
	size := uint64(fi.Size())
	if size < runHeaderSize || (size-runHeaderSize)/keyDocSize != r.count || (size-runHeaderSize)%keyDocSize != 0 {
		return fmt.Errorf("read run %s: %w: header says %d records (%d bytes), file has %d bytes",
			r.path, ErrCorruptFile, r.count, runHeaderSize+r.count*keyDocSize, size)
	}
	return nil
}

// advance reads the next record into cur; false at the end of the run.
func (r *runReader) advance() (bool, error) {
	if r.next == r.count {
		return false, nil
	}
	if _, err := io.ReadFull(r.br, r.rec[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return false, fmt.Errorf("read run %s record %d: %w", r.path, r.next, err)
	}
	rec := KeyDoc{binary.LittleEndian.Uint64(r.rec[:8]), binary.LittleEndian.Uint64(r.rec[8:])}
	if r.next > 0 && compareKeyDoc(rec, r.cur) < 0 {
		return false, fmt.Errorf("read run %s record %d: %w: out of (Key, Doc) order", r.path, r.next, ErrCorruptFile)
	}
	r.cur = rec
	r.next++
	return true, nil
}

// close releases the file; it was opened read-only, so there is no write
// error to lose.
func (r *runReader) close() {
	r.f.Close()
	r.br = nil
}

// RunMerger yields the records of several sorted run files of one band in
// (Key, Doc) order. Records equal in both fields are all kept.
type RunMerger struct {
	heap  []*runReader
	temps []string // intermediate runs this merger wrote; Close removes them
	err   error    // sticky: after a read error every Next returns it
}

// MergeRuns merges sorted run files of one band. Past 64 runs it first
// merges groups of runs into intermediate runs next to paths[0], which
// bounds open files and read buffers (64 KiB each) whatever the run count.
// The intermediate names are derived from the input list, so the same input
// writes the same files and merges of different bands never collide.
func MergeRuns(paths []string) (*RunMerger, error) {
	dir := "."
	if len(paths) > 0 {
		dir = filepath.Dir(paths[0])
	}
	return mergeRuns(paths, dir, defaultMaxFanIn)
}

// MergeRunsIn is MergeRuns writing any intermediate runs to workDir, for a
// merge whose inputs live in directories it must not write (another task's
// output).
func MergeRunsIn(workDir string, paths []string) (*RunMerger, error) {
	return mergeRuns(paths, workDir, defaultMaxFanIn)
}

func mergeRuns(paths []string, workDir string, fanIn int) (*RunMerger, error) {
	fanIn = max(fanIn, 2)
	m := &RunMerger{}
	inputs, err := m.reduceFanIn(paths, workDir, fanIn)
	if err == nil {
		err = m.open(inputs)
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// reduceFanIn merges groups of fanIn runs, level by level, until at most
// fanIn remain. Each level's intermediates are deleted once merged again.
func (m *RunMerger) reduceFanIn(paths []string, workDir string, fanIn int) ([]string, error) {
	tag := pathsTag(paths)
	for level := 0; len(paths) > fanIn; level++ {
		var next []string
		for g := 0; g*fanIn < len(paths); g++ {
			group := paths[g*fanIn : min((g+1)*fanIn, len(paths))]
			out := filepath.Join(workDir, fmt.Sprintf("merge-%016x-%02d-%06d.kd", tag, level, g))
			if err := mergeToFile(group, out); err != nil {
				return nil, err
			}
			m.temps = append(m.temps, out)
			next = append(next, out)
		}
		if level > 0 {
			for _, p := range paths {
				os.Remove(p)
			}
			m.temps = slices.DeleteFunc(m.temps, func(t string) bool { return slices.Contains(paths, t) })
		}
		paths = next
	}
	return paths, nil
}

func pathsTag(paths []string) uint64 {
	h := fnv.New64a()
	for _, p := range paths {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func mergeToFile(paths []string, out string) error {
	src := &RunMerger{}
	defer src.Close()
	if err := src.open(paths); err != nil {
		return err
	}
	var total uint64
	for _, r := range src.heap {
		total += r.count
	}
	w, err := createRun(out, total, nil)
	if err != nil {
		return err
	}
	for {
		r, ok, err := src.Next()
		if err != nil {
			w.abort()
			return err
		}
		if !ok {
			return w.commit()
		}
		if err := w.write(r); err != nil {
			w.abort()
			return err
		}
	}
}

// open opens every run, reads its first record and heapifies; empty runs
// are closed at once.
func (m *RunMerger) open(paths []string) error {
	for i, p := range paths {
		r, err := openRun(p)
		if err != nil {
			return err
		}
		r.ord = i
		ok, err := r.advance()
		if err != nil || !ok {
			r.close()
			if err != nil {
				return err
			}
			continue
		}
		m.heap = append(m.heap, r)
	}
	for i := len(m.heap)/2 - 1; i >= 0; i-- {
		m.siftDown(i)
	}
	return nil
}

// Next returns the smallest record not yet returned; false once every run
// is exhausted.
func (m *RunMerger) Next() (KeyDoc, bool, error) {
	if m.err != nil {
		return KeyDoc{}, false, m.err
	}
	if len(m.heap) == 0 {
		return KeyDoc{}, false, nil
	}
	top := m.heap[0]
	rec := top.cur
	ok, err := top.advance()
	if err != nil {
		m.err = err
		return KeyDoc{}, false, err
	}
	if !ok {
		top.close()
		last := len(m.heap) - 1
		m.heap[0] = m.heap[last]
		m.heap[last] = nil
		m.heap = m.heap[:last]
	}
	if len(m.heap) > 0 {
		m.siftDown(0)
	}
	return rec, true, nil
}

func (m *RunMerger) less(i, j int) bool {
	a, b := m.heap[i], m.heap[j]
	if c := compareKeyDoc(a.cur, b.cur); c != 0 {
		return c < 0
	}
	return a.ord < b.ord
}

func (m *RunMerger) siftDown(i int) {
	n := len(m.heap)
	for {
		small := i
		if l := 2*i + 1; l < n && m.less(l, small) {
			small = l
		}
		if r := 2*i + 2; r < n && m.less(r, small) {
			small = r
		}
		if small == i {
			return
		}
		m.heap[i], m.heap[small] = m.heap[small], m.heap[i]
		i = small
	}
}

// Close closes the runs still open and removes the intermediate runs the
// merger wrote; the input runs belong to the caller and are left alone.
func (m *RunMerger) Close() error {
	for _, r := range m.heap {
		r.close()
	}
	m.heap = nil
	var first error
	for _, t := range m.temps {
		if err := os.Remove(t); err != nil && first == nil {
			first = fmt.Errorf("remove intermediate run: %w", err)
		}
	}
	m.temps = nil
	if m.err == nil {
		m.err = errors.New("run merger: Next after Close")
	}
	return first
}

// ForEachGroup calls fn for every maximal run of records with an equal Key
// that names at least 2 distinct docs, with the docs ascending and repeated
// (Key, Doc) records collapsed. A group larger than maxGroup docs (a key
// shared by boilerplate in millions of documents) comes in chunks of at most
// maxGroup docs, each starting again with the group's first doc: memory stays
// bounded and a caller that links every doc to docs[0] still links the whole
// group. fn must not keep docs; the slice is reused. It does not close m.
func ForEachGroup(m KeyDocSource, maxGroup int, fn func(key uint64, docs []uint64) error) error {
	if maxGroup < 2 {
		return fmt.Errorf("ForEachGroup: maxGroup %d, need at least 2", maxGroup)
	}
	g := groupChunker{fn: fn, max: maxGroup}
	for {
		r, ok, err := m.Next()
		if err != nil {
			return err
		}
		if !ok {
			return g.flush()
		}
		if err := g.add(r); err != nil {
			return err
		}
	}
}

// KeyDocSource yields KeyDoc records in (Key, Doc) order: a RunMerger, or
// one combined with an earlier run's index.
type KeyDocSource interface {
	Next() (KeyDoc, bool, error)
}

type groupChunker struct {
	fn   func(uint64, []uint64) error
	max  int
	key  uint64
	docs []uint64 // docs of the current group's current chunk; empty before the first record
}

func (g *groupChunker) add(r KeyDoc) error {
	if len(g.docs) == 0 || r.Key != g.key {
		if err := g.flush(); err != nil {
			return err
		}
		g.key = r.Key
		g.docs = append(g.docs, r.Doc)
		return nil
	}
	if r.Doc == g.docs[len(g.docs)-1] {
		return nil
	}
	// Flush a full chunk only when another doc arrives, so a chunk holding
	// just the first doc is never passed on.
	if len(g.docs) == g.max {
		if err := g.fn(g.key, g.docs); err != nil {
			return err
		}
		g.docs = g.docs[:1]
	}
	g.docs = append(g.docs, r.Doc)
	return nil
}

func (g *groupChunker) flush() error {
	defer func() { g.docs = g.docs[:0] }()
	if len(g.docs) < 2 {
		return nil
	}
	return g.fn(g.key, g.docs)
}
