package dedup

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

type bandRec struct {
	band int
	r    KeyDoc
}

// spillTestRecords draws records from a small key space so that many keys
// are shared (groups) and some (Key, Doc) pairs repeat.
func spillTestRecords(seed uint64, n, bands int, keys uint64) []bandRec {
	rng := rand.New(rand.NewPCG(seed, 1))
	recs := make([]bandRec, n)
	for i := range recs {
		recs[i] = bandRec{rng.IntN(bands), KeyDoc{Key: rng.Uint64N(keys), Doc: rng.Uint64N(uint64(n))}}
	}
	return recs
}

func spillAll(t testing.TB, dir string, bands int, budget int64, recs []bandRec) (*BandSpiller, [][]string) {
	t.Helper()
	s, err := NewBandSpiller(dir, bands, budget)
	if err != nil {
		t.Fatal(err)
	}
	for _, br := range recs {
		if err := s.Add(br.band, br.r); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := s.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return s, runs
}

func mergeAll(t testing.TB, paths []string, fanIn int) []KeyDoc {
	t.Helper()
	m, err := mergeRuns(paths, t.TempDir(), fanIn)
	if err != nil {
		t.Fatal(err)
	}
	return drain(t, m)
}

// drain reads a merger to its end and closes it.
func drain(t testing.TB, m *RunMerger) []KeyDoc {
	t.Helper()
	var out []KeyDoc
	for {
		r, ok, err := m.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		out = append(out, r)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// groupLog renders every ForEachGroup callback, so runs of different
// budgets can be compared callback for callback.
func groupLog(t testing.TB, paths []string, fanIn, maxGroup int) []string {
	t.Helper()
	m, err := mergeRuns(paths, t.TempDir(), fanIn)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var log []string
	err = ForEachGroup(m, maxGroup, func(key uint64, docs []uint64) error {
		log = append(log, fmt.Sprint(key, docs))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return log
}

func sortedBand(recs []bandRec, band int) []KeyDoc {
	var want []KeyDoc
	for _, br := range recs {
		if br.band == band {
			want = append(want, br.r)
		}
	}
	slices.SortFunc(want, compareKeyDoc)
	return want
}

func TestSpillMergeMatchesSort(t *testing.T) {
	const bands, n = 5, 20000
	recs := spillTestRecords(7, n, bands-1, 3000) // the last band stays empty
	var wantGroups [][]string
	tests := []struct {
		name      string
		budget    int64
		fanIn     int
		minSpills int
	}{
		{"huge budget one run per band", 1 << 30, defaultMaxFanIn, bands - 1},
		{"tiny budget many runs", int64(bands) * minBandRecords * keyDocSize, defaultMaxFanIn, n / minBandRecords},
		{"tiny budget fan-in 3", int64(bands) * minBandRecords * keyDocSize, 3, n / minBandRecords},
		{"medium budget fan-in 4", 64 << 10, 4, n / 800},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, runs := spillAll(t, t.TempDir(), bands, tt.budget, recs)
			if s.Spills() < tt.minSpills {
				t.Errorf("Spills = %d, want at least %d", s.Spills(), tt.minSpills)
			}
			if tt.budget == 1<<30 && s.Spills() != bands-1 {
				t.Errorf("huge budget: Spills = %d, want one run per non-empty band (%d)", s.Spills(), bands-1)
			}
			if len(runs[bands-1]) != 0 {
				t.Errorf("empty band has runs %v", runs[bands-1])
			}
			var groups [][]string
			for band := range bands {
				got := mergeAll(t, runs[band], tt.fanIn)
				if want := sortedBand(recs, band); !slices.Equal(got, want) {
					t.Fatalf("band %d: merged %d records, differ from the %d sorted ones", band, len(got), len(want))
				}
				groups = append(groups, groupLog(t, runs[band], tt.fanIn, 3))
			}
			if wantGroups == nil {
				wantGroups = groups
			} else if !slices.EqualFunc(groups, wantGroups, slices.Equal) {
				t.Errorf("group callbacks differ from those of the first budget")
			}
		})
	}
	if len(wantGroups[0]) == 0 {
		t.Fatal("test data has no groups")
	}
}

func TestSpillSortKeyDocs(t *testing.T) {
	tests := []struct {
		name string
		key  func(rng *rand.Rand) uint64
	}{
		{"hashes", func(rng *rand.Rand) uint64 { return rng.Uint64() }},
		{"small key space", func(rng *rand.Rand) uint64 { return rng.Uint64N(500) }},
		{"one key", func(*rand.Rand) uint64 { return 1 << 63 }},
		{"top bytes equal", func(rng *rand.Rand) uint64 { return 0xabcd<<48 | rng.Uint64N(1<<20) }},
		{"skewed", func(rng *rand.Rand) uint64 { return rng.Uint64() >> rng.UintN(64) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(4, 4))
			for _, n := range []int{0, 1, radixCutoff, radixCutoff + 1, 50000} {
				a := make([]KeyDoc, n)
				for i := range a {
					a[i] = KeyDoc{tt.key(rng), rng.Uint64N(1000)}
				}
				want := slices.Clone(a)
				slices.SortFunc(want, compareKeyDoc)
				sortKeyDocs(a, 56)
				if !slices.Equal(a, want) {
					t.Fatalf("n=%d: radix sort differs from slices.SortFunc", n)
				}
			}
		})
	}
}

func TestSpillFilesDeterministic(t *testing.T) {
	recs := spillTestRecords(11, 5000, 3, 1000)
	for _, budget := range []int64{4 << 10, 1 << 20} {
		a, b := t.TempDir(), t.TempDir()
		spillAll(t, a, 3, budget, recs)
		spillAll(t, b, 3, budget, recs)
		fa, fb := readTree(t, a), readTree(t, b)
		if len(fa) == 0 || len(fa) != len(fb) {
			t.Fatalf("budget %d: %d files vs %d", budget, len(fa), len(fb))
		}
		for name, data := range fa {
			if strings.Contains(name, ".tmp-") {
				t.Errorf("temporary file left: %s", name)
			}
			if !bytes.Equal(data, fb[name]) {
				t.Errorf("budget %d: %s differs between identical runs", budget, name)
			}
		}
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestSpillKeepsDuplicateRecords(t *testing.T) {
	r := KeyDoc{Key: 42, Doc: 7}
	recs := []bandRec{{0, r}, {0, KeyDoc{42, 3}}, {0, r}, {0, r}}
	_, runs := spillAll(t, t.TempDir(), 1, 4<<10, recs)
	got := mergeAll(t, runs[0], defaultMaxFanIn)
	want := []KeyDoc{{42, 3}, r, r, r}
	if !slices.Equal(got, want) {
		t.Fatalf("merged %v, want %v", got, want)
	}
}

func TestSpillMergeFanInCap(t *testing.T) {
	recs := spillTestRecords(3, 50*minBandRecords, 1, 500)
	runDir := t.TempDir()
	_, runs := spillAll(t, runDir, 1, minBandRecords*keyDocSize*4, recs) // 4 KiB: 256 records a run
	if len(runs[0]) < 10 {
		t.Fatalf("only %d runs", len(runs[0]))
	}
	before := readTree(t, runDir)
	work := t.TempDir()
	m, err := mergeRuns(runs[0], work, 3) // 13 runs -> 5 -> 2 intermediates
	if err != nil {
		t.Fatal(err)
	}
	temps := slices.Clone(m.temps)
	if len(temps) == 0 {
		t.Fatal("no intermediate runs")
	}
	for _, p := range temps {
		if filepath.Dir(p) != work || !strings.HasPrefix(filepath.Base(p), "merge-") {
			t.Errorf("intermediate %s outside work dir %s", p, work)
		}
	}
	got := drain(t, m)
	if want := sortedBand(recs, 0); !slices.Equal(got, want) {
		t.Fatalf("fan-in 3 merge differs from sort")
	}
	if left, _ := os.ReadDir(work); len(left) != 0 {
		t.Errorf("Close left %d files in the work dir, e.g. %s", len(left), left[0].Name())
	}
	after := readTree(t, runDir)
	if len(after) != len(before) {
		t.Errorf("input dir had %d files, now %d", len(before), len(after))
	}
	m2, err := mergeRuns(runs[0], work, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if !slices.Equal(m2.temps, temps) {
		t.Errorf("intermediate names differ between identical merges: %v vs %v", m2.temps, temps)
	}
}

func TestSpillMergeNoRuns(t *testing.T) {
	m, err := MergeRuns(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := m.Next(); ok || err != nil {
		t.Fatalf("empty merge: ok %v err %v", ok, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Next(); err == nil {
		t.Error("Next after Close: no error")
	}
}

func TestSpillMergeRunsIn(t *testing.T) {
	recs := spillTestRecords(8, (defaultMaxFanIn+6)*minBandRecords*4, 1, 1000)
	_, runs := spillAll(t, t.TempDir(), 1, minBandRecords*keyDocSize*4, recs)
	if len(runs[0]) <= defaultMaxFanIn {
		t.Fatalf("only %d runs", len(runs[0]))
	}
	work := t.TempDir()
	m, err := MergeRunsIn(work, runs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(m.temps) == 0 || filepath.Dir(m.temps[0]) != work {
		t.Errorf("intermediates %v not in %s", m.temps, work)
	}
	n := 0
	for {
		_, ok, err := m.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		n++
	}
	m.Close()
	if n != len(recs) {
		t.Errorf("merged %d records, want %d", n, len(recs))
	}
}

func TestSpillWriteError(t *testing.T) {
	dir := t.TempDir()
	s, err := NewBandSpiller(dir, 1, 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(dir, "band-000")
	os.WriteFile(blocker, nil, 0o644) // the band directory cannot be created
	for i := range uint64(1000) {
		if err = s.Add(0, KeyDoc{i, i}); err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), blocker) {
		t.Errorf("spill into a blocked directory: %v", err)
	}
}

func TestSpillCorruptRun(t *testing.T) {
	recs := []KeyDoc{{1, 1}, {2, 2}, {3, 3}, {4, 4}}
	tests := []struct {
		name     string
		mangle   func(data []byte) []byte
		atOpen   bool
		wantText string
	}{
		{"truncated record", func(d []byte) []byte { return d[:len(d)-8] }, true, "header says 4 records"},
		{"truncated to header", func(d []byte) []byte { return d[:runHeaderSize] }, true, "header says 4 records"},
		{"truncated header", func(d []byte) []byte { return d[:10] }, true, "header"},
		{"extra bytes", func(d []byte) []byte { return append(d, make([]byte, 16)...) }, true, "file has 96 bytes"},
		{"bad magic", func(d []byte) []byte { d[0] = 'X'; return d }, true, "magic"},
		{"unsorted", func(d []byte) []byte { d[runHeaderSize+2*keyDocSize] = 0; return d }, false, "record 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "run-000000.kd")
			if err := writeRun(path, recs, nil); err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(path)
			if err := os.WriteFile(path, tt.mangle(data), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := MergeRuns([]string{path})
			if err == nil {
				defer m.Close()
				for err == nil {
					var ok bool
					if _, ok, err = m.Next(); !ok && err == nil {
						t.Fatal("corrupt run merged without error")
					}
				}
				if tt.atOpen {
					t.Errorf("error only while reading, want it at open: %v", err)
				}
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not name %s and %q", err, path, tt.wantText)
			}
			if !errors.Is(err, ErrCorruptFile) {
				t.Errorf("error %q does not wrap ErrCorruptFile", err)
			}
		})
	}
}

func TestBandSpillerMisuse(t *testing.T) {
	if _, err := NewBandSpiller(t.TempDir(), 0, 1<<20); err == nil {
		t.Error("0 bands: no error")
	}
	if _, err := NewBandSpiller(t.TempDir(), 14, 14*minBandRecords*keyDocSize-1); err == nil {
		t.Error("budget below the minimum: no error")
	}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "stale"), nil, 0o644)
	if _, err := NewBandSpiller(full, 1, 1<<20); err == nil || !strings.Contains(err.Error(), full) {
		t.Errorf("non-empty dir: %v", err)
	}
	s, err := NewBandSpiller(filepath.Join(t.TempDir(), "new", "dir"), 2, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, band := range []int{-1, 2} {
		if err := s.Add(band, KeyDoc{}); err == nil {
			t.Errorf("Add to band %d: no error", band)
		}
	}
	runs, err := s.Finish()
	if err != nil || len(runs) != 2 || len(runs[0])+len(runs[1]) != 0 {
		t.Fatalf("Finish of an empty spiller: %v, %v", runs, err)
	}
	if err := s.Add(0, KeyDoc{}); err == nil || !strings.Contains(err.Error(), "Finish") {
		t.Errorf("Add after Finish: %v", err)
	}
	if _, err := s.Finish(); err == nil {
		t.Error("second Finish: no error")
	}
}

func TestForEachGroup(t *testing.T) {
	tests := []struct {
		name     string
		recs     []KeyDoc
		maxGroup int
		want     []string
	}{
		{"singletons skipped", []KeyDoc{{1, 1}, {2, 2}, {3, 3}}, 4, nil},
		{"repeated record is one doc", []KeyDoc{{1, 5}, {1, 5}, {2, 1}, {2, 2}}, 4, []string{"2 [1 2]"}},
		{"pair", []KeyDoc{{9, 3}, {9, 1}}, 2, []string{"9 [1 3]"}},
		{"exactly maxGroup", []KeyDoc{{1, 1}, {1, 2}, {1, 3}, {1, 4}}, 4, []string{"1 [1 2 3 4]"}},
		{"one over maxGroup", []KeyDoc{{1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}}, 4,
			[]string{"1 [1 2 3 4]", "1 [1 5]"}},
		{"chunks restart at the first doc", []KeyDoc{{7, 0}, {7, 1}, {7, 2}, {7, 3}, {7, 4}, {7, 5}, {7, 6}, {8, 1}, {8, 9}}, 3,
			[]string{"7 [0 1 2]", "7 [0 3 4]", "7 [0 5 6]", "8 [1 9]"}},
		{"duplicate at a chunk edge", []KeyDoc{{1, 1}, {1, 2}, {1, 2}, {1, 3}}, 2,
			[]string{"1 [1 2]", "1 [1 3]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "run.kd")
			recs := slices.Clone(tt.recs)
			slices.SortFunc(recs, compareKeyDoc)
			if err := writeRun(path, recs, nil); err != nil {
				t.Fatal(err)
			}
			if got := groupLog(t, []string{path}, defaultMaxFanIn, tt.maxGroup); !slices.Equal(got, tt.want) {
				t.Errorf("groups %q, want %q", got, tt.want)
			}
		})
	}
}

func TestForEachGroupErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.kd")
	if err := writeRun(path, []KeyDoc{{1, 1}, {1, 2}, {2, 1}, {2, 2}}, nil); err != nil {
		t.Fatal(err)
	}
	m, _ := MergeRuns([]string{path})
	defer m.Close()
	if err := ForEachGroup(m, 1, nil); err == nil {
		t.Error("maxGroup 1: no error")
	}
	stop := errors.New("stop")
	calls := 0
	err := ForEachGroup(m, 10, func(uint64, []uint64) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("fn error: got %v after %d calls", err, calls)
	}
}

// TestForEachGroupChunkCoverage checks on random groups that chunks start
// with the group's first doc, ascend, respect the cap, and together name
// every distinct doc exactly once beside the first.
func TestForEachGroupChunkCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for trial := range 20 {
		maxGroup := 2 + rng.IntN(8)
		var recs []KeyDoc
		distinct := map[uint64]map[uint64]bool{}
		for key := range uint64(1 + rng.IntN(10)) {
			distinct[key] = map[uint64]bool{}
			for range rng.IntN(40) {
				d := rng.Uint64N(30)
				recs = append(recs, KeyDoc{key, d})
				distinct[key][d] = true
			}
		}
		slices.SortFunc(recs, compareKeyDoc)
		path := filepath.Join(t.TempDir(), "run.kd")
		if err := writeRun(path, recs, nil); err != nil {
			t.Fatal(err)
		}
		m, _ := MergeRuns([]string{path})
		seen := map[uint64]map[uint64]int{}
		err := ForEachGroup(m, maxGroup, func(key uint64, docs []uint64) error {
			if len(docs) < 2 || len(docs) > maxGroup || !slices.IsSorted(docs) {
				return fmt.Errorf("key %d: chunk %v (max %d)", key, docs, maxGroup)
			}
			first := slices.Min(slices.Collect(mapKeys(distinct[key])))
			if docs[0] != first {
				return fmt.Errorf("key %d: chunk %v does not start with %d", key, docs, first)
			}
			if seen[key] == nil {
				seen[key] = map[uint64]int{}
			}
			for _, d := range docs[1:] {
				seen[key][d]++
			}
			return nil
		})
		m.Close()
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		for key, docs := range distinct {
			if len(docs) < 2 {
				if seen[key] != nil {
					t.Errorf("trial %d: single-doc key %d reported", trial, key)
				}
				continue
			}
			if len(seen[key]) != len(docs)-1 {
				t.Errorf("trial %d key %d: %d docs reported beside the first, want %d", trial, key, len(seen[key]), len(docs)-1)
			}
			for d, c := range seen[key] {
				if c != 1 {
					t.Errorf("trial %d key %d: doc %d reported %d times", trial, key, d, c)
				}
			}
		}
	}
}

func mapKeys(m map[uint64]bool) func(func(uint64) bool) {
	return func(yield func(uint64) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// splitmix64 makes benchmark and memory-test records without holding them.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// TestSpillMemoryBound adds 64 MB of records (16 MB under -race) through a 4 MiB budget and
// samples the heap: the spiller must not hold more than its budget plus
// fixed buffers, whatever the input size.
func TestSpillMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MB of records")
	}
	const bands, budget = 16, 4 << 20
	n := 4 << 20
	if raceEnabled {
		n = 1 << 20 // still 4 times the budget; the race detector makes Add ~10 times slower
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	s, err := NewBandSpiller(t.TempDir(), bands, budget)
	if err != nil {
		t.Fatal(err)
	}
	var peak uint64
	for i := range uint64(n) {
		if err := s.Add(int(i%bands), KeyDoc{splitmix64(i), i / bands}); err != nil {
			t.Fatal(err)
		}
		if i%(32<<10) == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	if _, err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	grew := int64(peak) - int64(base)
	t.Logf("heap in use grew by at most %.1f MiB over %d spills", float64(grew)/(1<<20), s.Spills())
	if limit := int64(budget + 4<<20); grew > limit {
		t.Errorf("heap grew by %d bytes, budget %d, limit %d", grew, budget, limit)
	}
}

func BenchmarkSpillMerge(b *testing.B) {
	const bands, n, budget = 14, 1 << 20, 4 << 20
	root := b.TempDir()
	spill := func(dir string) [][]string {
		s, err := NewBandSpiller(dir, bands, budget)
		if err != nil {
			b.Fatal(err)
		}
		for i := range uint64(n) {
			band, doc := i%bands, i/bands
			key := splitmix64(band<<32 | doc%(n/bands/2)) // full-range hashes, each key in 2 docs
			if err := s.Add(int(band), KeyDoc{key, doc}); err != nil {
				b.Fatal(err)
			}
		}
		runs, err := s.Finish()
		if err != nil {
			b.Fatal(err)
		}
		return runs
	}
	merge := func(runs [][]string) {
		for _, paths := range runs {
			m, err := MergeRuns(paths)
			if err != nil {
				b.Fatal(err)
			}
			if err := ForEachGroup(m, 1024, func(uint64, []uint64) error { return nil }); err != nil {
				b.Fatal(err)
			}
			m.Close()
		}
	}
	scratch := filepath.Join(root, "scratch")
	b.Run("spill", func(b *testing.B) {
		b.SetBytes(n * keyDocSize)
		for b.Loop() {
			spill(scratch)
			os.RemoveAll(scratch)
		}
	})
	b.Run("merge", func(b *testing.B) {
		kept := filepath.Join(root, "kept")
		os.RemoveAll(kept) // -count reruns this function
		runs := spill(kept)
		b.SetBytes(n * keyDocSize)
		for b.Loop() {
			merge(runs)
		}
	})
	b.Run("spill+merge", func(b *testing.B) {
		b.SetBytes(n * keyDocSize)
		for b.Loop() {
			merge(spill(scratch))
			os.RemoveAll(scratch)
		}
	})
}
