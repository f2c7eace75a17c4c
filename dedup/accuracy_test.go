package dedup

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"winnow/internal/testenv"
)

// The accuracy tests compare MinHash + LSH with the exact Jaccard of the
// same shingle sets (MinHasher.Shingles), by brute force over real
// near-duplicate collections. A pair is positive at J ≥ 0.75 and negative at
// J ≤ 0.65 (threshold 0.7 ± 0.05); pairs in between count for neither.
// Recall = verified positives / positives; precision = verified positives /
// (verified positives + verified negatives). Verified = shares a band key
// and Similarity ≥ 0.7.

const (
	mhAccPos = DefaultMinHashThreshold + 0.05
	mhAccNeg = DefaultMinHashThreshold - 0.05
)

type mhAccSet struct {
	name string
	docs []string
}

// mhAccSets loads the three collections; a missing one is left out.
func mhAccSets(t *testing.T) []mhAccSet {
	corpora := testenv.SharedCorpora(t)
	laws := mhLoadLaws(t, filepath.Join(corpora, "zh-laws"))
	sets := []mhAccSet{
		{"zh-laws", laws},
		{"alpaca-zh", mhLoadAlpaca(t, filepath.Join(corpora, "zh-sft", "alpaca-zh"))},
		{"zh-laws-edited", mhEditedSet(laws)},
	}
	files, _ := filepath.Glob("/usr/share/doc/*/copyright")
	if len(files) > 0 {
		sets = append(sets, mhAccSet{"debian-copyright", mhReadFiles(t, files)})
	} else {
		t.Log("no /usr/share/doc/*/copyright: debian-copyright set left out")
	}
	return sets
}

func mhReadFiles(t *testing.T, files []string) []string {
	docs := make([]string, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(data))
	}
	return docs
}

// mhLoadLaws reads every law: the .md files below zh-laws/, not its notes.
func mhLoadLaws(t *testing.T, root string) []string {
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") && filepath.Dir(path) != root {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return mhReadFiles(t, files)
}

// mhLoadAlpaca reads both Chinese Alpaca variants; a record's text is
// instruction + "\n" + input + "\n" + output.
func mhLoadAlpaca(t *testing.T, root string) []string {
	var docs []string
	for _, f := range []string{"carbonz0/zh-data-part-00.json", "hikariming/alpaca_data-0-3252-中文-已完成.json"} {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		var recs []struct{ Instruction, Input, Output string }
		if err := json.Unmarshal(data, &recs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range recs {
			docs = append(docs, r.Instruction+"\n"+r.Input+"\n"+r.Output)
		}
	}
	return docs
}

// mhEditedSet makes pairs spread over the whole range of Jaccard: the real
// sets have few pairs near the threshold (most duplicates are identical),
// so they cannot show the S-curve. Each of 600 excerpts of the laws, 20 to
// 3,000 runes long (log-uniform), gets one copy with random characters
// replaced or deleted at the rate that makes the expected character-5-gram
// Jaccard uniform in [0.5, 1].
func mhEditedSet(laws []string) []string {
	rng := rand.New(rand.NewPCG(11, 12))
	var docs []string
	for len(docs) < 1200 {
		law := []rune(laws[rng.IntN(len(laws))])
		size := int(20 * math.Pow(150, rng.Float64()))
		if len(law) < size {
			continue
		}
		start := rng.IntN(len(law) - size + 1)
		base := law[start : start+size]
		j := 0.5 + 0.5*rng.Float64()
		keep := math.Pow(2*j/(1+j), 1.0/5) // per-rune survival giving that J
		var edited []rune
		for _, r := range base {
			switch x := rng.Float64(); {
			case x < keep:
				edited = append(edited, r)
			case x < (1+keep)/2:
				edited = append(edited, base[rng.IntN(len(base))])
			}
		}
		docs = append(docs, string(base), string(edited))
	}
	return docs
}

// mhParallel runs f(i) for i in [0, n) on every CPU.
func mhParallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

func mhPair(i, j int) uint64 {
	if i > j {
		i, j = j, i
	}
	return uint64(i)<<32 | uint64(j)
}

// mhTruth is the exact answer for one set under one shingling.
type mhTruth struct {
	sets     [][]uint64          // distinct shingles per document
	pos      map[uint64]struct{} // pairs with J ≥ mhAccPos
	grey     int                 // pairs with mhAccNeg < J < mhAccPos
	neg      int                 // pairs with J ≤ mhAccNeg
	computed int                 // pairs whose sizes did not settle it
	docs     int                 // documents with shingles
}

// mhGroundTruth classifies every pair of documents. Sizes settle most
// pairs: J ≤ min/max, so a size ratio ≤ mhAccNeg is negative unseen. The
// rest are merged, stopping as soon as J > mhAccNeg is out of reach.
func mhGroundTruth(m *MinHasher, docs []string) *mhTruth {
	tr := &mhTruth{sets: make([][]uint64, len(docs)), pos: map[uint64]struct{}{}}
	mhParallel(len(docs), func(i int) { tr.sets[i] = m.Shingles(docs[i], nil) })
	var order []int
	for i, s := range tr.sets {
		if len(s) > 0 {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return len(tr.sets[a]) - len(tr.sets[b]) })
	tr.docs = len(order)
	var mu sync.Mutex
	mhParallel(len(order), func(x int) {
		a := tr.sets[order[x]]
		var pos []uint64
		grey, computed := 0, 0
		for _, j := range order[x+1:] {
			b := tr.sets[j]
			if float64(len(a)) <= mhAccNeg*float64(len(b)) {
				break
			}
			computed++
			need := int(mhAccNeg*float64(len(a)+len(b))/(1+mhAccNeg)) + 1
			inter := mhIntersectAtLeast(a, b, need)
			if inter < 0 {
				continue
			}
			switch jac := float64(inter) / float64(len(a)+len(b)-inter); {
			case jac >= mhAccPos:
				pos = append(pos, mhPair(order[x], j))
			case jac > mhAccNeg:
				grey++
			}
		}
		mu.Lock()
		defer mu.Unlock()
		tr.grey += grey
		tr.computed += computed
		for _, p := range pos {
			tr.pos[p] = struct{}{}
		}
	})
	tr.neg = tr.docs*(tr.docs-1)/2 - len(tr.pos) - tr.grey
	return tr
}

// jaccard is the exact J of a pair (0 when sizes alone put it below mhAccNeg).
func (tr *mhTruth) jaccard(i, j int) float64 {
	a, b := tr.sets[i], tr.sets[j]
	if float64(min(len(a), len(b))) <= mhAccNeg*float64(max(len(a), len(b))) {
		return 0
	}
	return Jaccard(a, b)
}

// mhLSHStats is one row of the accuracy table.
type mhLSHStats struct {
	candidates, verified   int
	candPos, found, falsep int // candidates that are positive; verified positives; verified negatives
	misses                 []string
	elapsed                time.Duration
}

func (s mhLSHStats) recall(tr *mhTruth) float64 {
	if len(tr.pos) == 0 {
		return 1
	}
	return float64(s.found) / float64(len(tr.pos))
}

func (s mhLSHStats) precision() float64 {
	if s.found+s.falsep == 0 {
		return 1
	}
	return float64(s.found) / float64(s.found+s.falsep)
}

// mhLSH signs every document, pairs those that share a band key, and
// verifies each candidate pair by signature similarity.
func mhLSH(m *MinHasher, docs []string, tr *mhTruth) mhLSHStats {
	start := time.Now()
	k, bands := m.K(), m.Params().Bands
	sigs := make([]uint32, len(docs)*k)
	keys := make([]uint64, len(docs)*bands)
	signed := make([]bool, len(docs))
	mhParallel(len(docs), func(i int) {
		sig := sigs[i*k : (i+1)*k]
		if m.Sign(docs[i], nil, sig) > 0 {
			signed[i] = true
			m.BandKeys(sig, keys[i*bands:(i+1)*bands])
		}
	})
	buckets := map[uint64][]int{}
	for i, ok := range signed {
		for _, key := range keys[i*bands : (i+1)*bands] {
			if ok {
				buckets[key] = append(buckets[key], i)
			}
		}
	}
	cand := map[uint64]struct{}{}
	for _, ids := range buckets {
		for x, i := range ids {
			for _, j := range ids[x+1:] {
				cand[mhPair(i, j)] = struct{}{}
			}
		}
	}
	var st mhLSHStats
	st.candidates = len(cand)
	for p := range cand {
		i, j := int(p>>32), int(p&(1<<32-1))
		_, isPos := tr.pos[p]
		if isPos {
			st.candPos++
		}
		if Similarity(sigs[i*k:(i+1)*k], sigs[j*k:(j+1)*k]) < DefaultMinHashThreshold {
			continue
		}
		st.verified++
		switch {
		case isPos:
			st.found++
		case tr.jaccard(i, j) <= mhAccNeg:
			st.falsep++
		}
	}
	for p := range tr.pos {
		if len(st.misses) == 3 {
			break
		}
		i, j := int(p>>32), int(p&(1<<32-1))
		sim := Similarity(sigs[i*k:(i+1)*k], sigs[j*k:(j+1)*k])
		if _, ok := cand[p]; !ok || sim < DefaultMinHashThreshold {
			st.misses = append(st.misses, fmt.Sprintf("docs %d,%d: J %.3f, sim %.3f, candidate %v (%d, %d shingles)",
				i, j, tr.jaccard(i, j), sim, ok, len(tr.sets[i]), len(tr.sets[j])))
		}
	}
	st.elapsed = time.Since(start)
	return st
}

// mhAccRow runs one configuration over one set and formats its table row.
func mhAccRow(t *testing.T, set string, p MinHashParams, docs []string, tr *mhTruth) mhLSHStats {
	m := mhMust(t, p)
	st := mhLSH(m, docs, tr)
	t.Logf("| %-16s | %-4s | %-4s | %2d×%-2d | %5d | %6d | %5d | %9d | %8d | %6d | %6d | %.4f | %.4f | %.4f | %5.1fs |",
		set, p.Unit, p.Scheme, p.Bands, p.Rows, tr.docs, len(tr.pos), tr.grey, tr.neg, tr.computed,
		st.candidates, st.verified, float64(st.candPos)/float64(max(1, len(tr.pos))), st.recall(tr), st.precision(),
		st.elapsed.Seconds())
	for _, miss := range st.misses {
		t.Logf("    missed: %s", miss)
	}
	return st
}

const mhAccHeader = "| set | unit | scheme | b×r | docs | pos | grey | neg | computed | cand | verified | cand-recall | recall | precision | time |"

func mhSkipAccuracy(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("accuracy over whole corpora: skipped under -short and -race")
	}
}

// TestMinHashAccuracy measures both schemes and the three units with the
// defaults, and holds the defaults (unit auto) to recall and precision
// ≥ 0.95 on every set.
func TestMinHashAccuracy(t *testing.T) {
	mhSkipAccuracy(t)
	def := DefaultMinHashParams()
	t.Logf("defaults %+v, threshold %.2f; positives J ≥ %.2f, negatives J ≤ %.2f", def, DefaultMinHashThreshold, mhAccPos, mhAccNeg)
	t.Log(mhAccHeader)
	for _, set := range mhAccSets(t) {
		for _, unit := range []string{"auto", "char", "word"} {
			p := def
			p.Unit = unit
			start := time.Now()
			tr := mhGroundTruth(mhMust(t, p), set.docs)
			t.Logf("  %s/%s: ground truth in %.1fs", set.name, unit, time.Since(start).Seconds())
			for _, scheme := range []string{"oph", "perm"} {
				p.Scheme = scheme
				st := mhAccRow(t, set.name, p, set.docs, tr)
				if p == def && (st.recall(tr) < 0.95 || st.precision() < 0.95) {
					t.Errorf("%s with the defaults: recall %.4f, precision %.4f, want both ≥ 0.95",
						set.name, st.recall(tr), st.precision())
				}
			}
		}
	}
}

// TestMinHashAccuracySweep compares other schemes, shingle sizes and band
// layouts; it is how the defaults were chosen. It runs only when
// WINNOW_MINHASH_SWEEP is set (several minutes):
//
//	WINNOW_MINHASH_SWEEP=1 go test -count=1 -run AccuracySweep -v -timeout 1h ./dedup/
func TestMinHashAccuracySweep(t *testing.T) {
	mhSkipAccuracy(t)
	if os.Getenv("WINNOW_MINHASH_SWEEP") == "" {
		t.Skip("set WINNOW_MINHASH_SWEEP=1 to run the sweep")
	}
	layouts := [][2]int{{14, 8}, {16, 8}, {20, 6}, {25, 5}, {32, 4}, {32, 8}, {36, 7}, {42, 6}, {40, 8}, {50, 8}}
	t.Log(mhAccHeader)
	for _, set := range mhAccSets(t) {
		for _, n := range []int{3, 5} {
			for _, unit := range []string{"auto"} {
				p := DefaultMinHashParams()
				p.Unit, p.N = unit, n
				tr := mhGroundTruth(mhMust(t, p), set.docs)
				t.Logf("  %s N=%d: %d positives, %d grey, %d computed", set.name, n, len(tr.pos), tr.grey, tr.computed)
				for _, br := range layouts {
					for _, scheme := range []string{"oph", "perm"} {
						p.Scheme, p.Bands, p.Rows = scheme, br[0], br[1]
						mhAccRow(t, fmt.Sprintf("%s N=%d", set.name, n), p, set.docs, tr)
					}
				}
			}
		}
	}
}
