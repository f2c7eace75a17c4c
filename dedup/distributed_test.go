package dedup

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"winnow/pipeline"
)

// synthCorpus numbers docs documents in a row; a share of them come in
// clusters of exact copies (same key in every band), the rest are unique.
type synthCorpus struct {
	docs, bands int
	// clustered documents are the first ones: cluster d/size.
	clustered, size int
}

func (c synthCorpus) cluster(d int) int {
	if d < c.clustered {
		return d / c.size
	}
	return c.clustered + d // unique
}

func (c synthCorpus) key(d, band int) uint64 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], uint64(c.cluster(d)))
	binary.LittleEndian.PutUint64(b[8:], uint64(band))
	return xxhash.Sum64(b[:])
}

// writeSealed writes what Seal leaves for documents [lo, hi): per-band
// runs sorted by (key, task ordinal), keep-policy records, ids, sealed.json.
func (c synthCorpus) writeSealed(tb testing.TB, dir string, lo, hi int) {
	tb.Helper()
	meta, err := CreateFixed(filepath.Join(dir, "meta.fx"), metaSize)
	if err != nil {
		tb.Fatal(err)
	}
	ids, err := CreateStrings(filepath.Join(dir, "ids"))
	if err != nil {
		tb.Fatal(err)
	}
	var rec [metaSize]byte
	for d := lo; d < hi; d++ {
		binary.LittleEndian.PutUint64(rec[0:], 10)
		binary.LittleEndian.PutUint64(rec[8:], math.Float64bits(math.Inf(-1)))
		binary.LittleEndian.PutUint64(rec[16:], 1)
		if err := meta.Append(rec[:]); err != nil {
			tb.Fatal(err)
		}
		if err := ids.Append(fmt.Sprintf("doc-%08d", d)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := meta.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := ids.Close(); err != nil {
		tb.Fatal(err)
	}
	st := sealedState{Documents: uint64(hi - lo), Keyed: uint64(hi - lo), Bands: make([][]string, c.bands)}
	os.MkdirAll(filepath.Join(dir, "bands"), 0o755)
	recs := make([]KeyDoc, hi-lo)
	for band := range c.bands {
		for d := lo; d < hi; d++ {
			recs[d-lo] = KeyDoc{Key: c.key(d, band), Doc: uint64(d - lo)}
		}
		sortKeyDocs(recs, 56)
		name := fmt.Sprintf("bands/band-%03d-run-0000", band)
		if err := writeRun(filepath.Join(dir, name), recs, nil); err != nil {
			tb.Fatal(err)
		}
		st.Bands[band] = []string{name}
	}
	if err := pipeline.WriteJSON(filepath.Join(dir, sealedFile), st); err != nil {
		tb.Fatal(err)
	}
}

// linkSynth seals the corpus in tasks consecutive slices and links it with
// perBand units per band; it returns the resolve job (Out: each task's
// decisions directory) and the bytes of the link files.
func linkSynth(tb testing.TB, c synthCorpus, tasks, perBand int, core *clusterCore) (pipeline.ResolveJob, int64) {
	tb.Helper()
	root := tb.TempDir()
	sealed := make([]string, tasks)
	for i := range tasks {
		sealed[i] = filepath.Join(root, fmt.Sprintf("task-%d", i))
		os.MkdirAll(sealed[i], 0o755)
		c.writeSealed(tb, sealed[i], i*c.docs/tasks, (i+1)*c.docs/tasks)
	}
	fetch := func(_ context.Context, task int, name string) (string, error) {
		return filepath.Join(sealed[task], filepath.FromSlash(name)), nil
	}
	units := core.LinkUnits(perBand)
	var linkBytes int64
	for u := range units {
		out := filepath.Join(root, fmt.Sprintf("link-%d", u))
		os.MkdirAll(out, 0o755)
		job := pipeline.LinkJob{Tasks: tasks, Fetch: fetch, Unit: u, WorkersPerBand: perBand, Out: out, Scratch: tb.TempDir()}
		if err := core.Link(context.Background(), job); err != nil {
			tb.Fatal(err)
		}
		if fi, err := os.Stat(filepath.Join(out, linksFile)); err == nil {
			linkBytes += fi.Size()
		}
	}
	job := pipeline.ResolveJob{Tasks: tasks, Fetch: fetch, Units: units, WorkersPerBand: perBand, Scratch: tb.TempDir(),
		FetchLink: func(_ context.Context, unit int, name string) (string, error) {
			return filepath.Join(root, fmt.Sprintf("link-%d", unit), name), nil
		}}
	for i := range tasks {
		job.Out = append(job.Out, filepath.Join(root, fmt.Sprintf("out-%d", i)))
		os.MkdirAll(job.Out[i], 0o755)
	}
	return job, linkBytes
}

func resolveSynth(tb testing.TB, c synthCorpus, tasks, perBand int, keep string) []string {
	tb.Helper()
	core := &clusterCore{name: "exact_dedup", reason: "exact_duplicate", bands: c.bands, keep: keep}
	job, _ := linkSynth(tb, c, tasks, perBand, core)
	if err := core.Resolve(context.Background(), job); err != nil {
		tb.Fatal(err)
	}
	return job.Out
}

// taskDecision is one decision as a task's decider sees it.
type taskDecision struct {
	ord     uint64
	keeper  string
	removed bool
	size    uint64
}

func readTaskDecisions(t *testing.T, dir string, taskLo int) []taskDecision {
	t.Helper()
	decs, err := OpenFixed(filepath.Join(dir, "decisions.fx"))
	if err != nil {
		t.Fatal(err)
	}
	defer decs.Close()
	foreign, err := openForeignIDs(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	var out []taskDecision
	var v [3]uint64
	err = decs.Each(func(_ uint64, rec []byte) error {
		Uint64s(rec, v[:])
		d := taskDecision{ord: v[0] + uint64(taskLo), removed: v[1] != v[0], size: v[2]}
		if v[1]&foreignDocBit != 0 {
			id, err := foreign.Get(v[1] &^ foreignDocBit)
			if err != nil {
				return err
			}
			d.keeper = id
		} else {
			d.keeper = fmt.Sprintf("doc-%08d", v[1]+uint64(taskLo))
		}
		out = append(out, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTaskResolve checks the distributed link and resolve against what
// the synthetic corpus must give: every copy after a cluster's first is
// removed in favour of the first, whichever task holds either, however
// the tasks and bands are cut.
func TestTaskResolve(t *testing.T) {
	c := synthCorpus{docs: 3000, bands: 3, clustered: 1200, size: 7}
	var want []taskDecision
	for d := range c.clustered {
		first := d - d%c.size
		size := min(c.size, c.clustered-first)
		want = append(want, taskDecision{ord: uint64(d), keeper: fmt.Sprintf("doc-%08d", first), removed: d != first, size: uint64(size)})
	}
	for _, keep := range []string{"first", "longest"} {
		for _, cut := range []struct{ tasks, perBand int }{{1, 1}, {4, 1}, {7, 3}} {
			t.Run(fmt.Sprintf("keep %s, %d tasks, %d per band", keep, cut.tasks, cut.perBand), func(t *testing.T) {
				outs := resolveSynth(t, c, cut.tasks, cut.perBand, keep)
				var got []taskDecision
				for i, out := range outs {
					got = append(got, readTaskDecisions(t, out, i*c.docs/cut.tasks)...)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%d decisions, want %d; first: %+v, want %+v", len(got), len(want), got[:min(3, len(got))], want[:3])
				}
			})
		}
	}
}

// BenchmarkTaskResolve measures the resolve pass's state: the peak heap
// it adds while joining the links, per linked document (one in a cluster),
// and the link files per linked document.
func BenchmarkTaskResolve(b *testing.B) {
	c := synthCorpus{docs: 2_000_000, bands: 4, clustered: 600_000, size: 3}
	core := &clusterCore{name: "exact_dedup", reason: "exact_duplicate", bands: c.bands, keep: "first"}
	for b.Loop() {
		b.StopTimer()
		job, linkBytes := linkSynth(b, c, 4, 1, core)
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		stop, stopped := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(stopped)
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				peak.Store(max(peak.Load(), m.HeapInuse))
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
		}()
		b.StartTimer()
		if err := core.Resolve(context.Background(), job); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		close(stop)
		<-stopped
		b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapInuse))/float64(c.clustered), "heap-B/linked-doc")
		b.ReportMetric(float64(linkBytes)/float64(c.clustered), "links-B/linked-doc")
		b.StartTimer()
	}
}
