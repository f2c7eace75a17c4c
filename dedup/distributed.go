package dedup

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"winnow/pipeline"
)

// A distributed run (package dist) resolves a dedup stage in three steps
// that share only storage:
//
//  1. each task's collector is sealed (Seal): its band runs, signatures,
//     keep-policy records and ids stay in its work directory, numbered by
//     the task's own ordinals, and sealed.json lists them;
//  2. each link unit (one band, or one hash range of a band) merges that
//     band's runs of every task, with each task's ordinals shifted by the
//     documents of the tasks before it, and writes the links its groups
//     give (links.fx), exactly as the one-machine resolver links them;
//  3. one resolve joins every unit's links into clusters and writes each
//     task's decisions in the task's ordinals (decisions.fx), with the ids
//     of keepers held by other tasks beside them (foreign-ids).
//
// Tasks hold consecutive slices of the sorted input listing, so the shifted
// ordinals are the ordinals a one-machine run gives, and keep: first keeps
// what it keeps there. Within one band every document is in exactly one
// group, so a unit's links depend only on its groups: any split into units
// gives the same links.

const (
	sealedFile  = "sealed.json"
	linksFile   = "links.fx"
	linkedFile  = "linked.json"
	foreignFile = "foreign-ids"
	// foreignDocBit marks, in a task's decisions, a keeper another task
	// holds: the rest of the reference indexes foreign-ids.
	foreignDocBit = 1 << 62
)

// sealedState is what a sealed collector leaves besides its files.
type sealedState struct {
	Documents uint64 `json:"documents"`
	Keyed     uint64 `json:"keyed"`
	Spills    int    `json:"spills"`
	// Bands lists each band's run files, relative to the work directory.
	Bands [][]string `json:"bands"`
}

// Seal finishes the collector's side files for the distributed resolve.
func (col *clusterCollector) Seal(ctx context.Context) error {
	runs, err := col.spill.Finish()
	if err != nil {
		return err
	}
	for _, w := range []interface{ Close() error }{col.meta, col.ids} {
		if err := w.Close(); err != nil {
			return err
		}
	}
	if col.sigs != nil {
		if err := col.sigs.Close(); err != nil {
			return err
		}
	}
	st := sealedState{Documents: col.n, Keyed: col.keyed, Spills: col.spill.Spills(), Bands: make([][]string, col.core.bands)}
	for band, paths := range runs {
		for _, p := range paths {
			rel, err := filepath.Rel(col.env.WorkDir, p)
			if err != nil {
				return err
			}
			st.Bands[band] = append(st.Bands[band], filepath.ToSlash(rel))
		}
	}
	return pipeline.WriteJSON(filepath.Join(col.env.WorkDir, sealedFile), st)
}

// sealedTasks reads every task's sealed.json and numbers the documents of
// all tasks in a row: offsets[i] is task i's first ordinal.
func sealedTasks(ctx context.Context, fetch pipeline.Fetch, tasks int) ([]sealedState, []uint64, error) {
	states := make([]sealedState, tasks)
	offsets := make([]uint64, tasks+1)
	for i := range states {
		path, err := fetch(ctx, i, sealedFile)
		if err != nil {
			return nil, nil, err
		}
		data, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(data, &states[i])
		}
		if err != nil {
			return nil, nil, fmt.Errorf("task %d: %s: %w", i, sealedFile, err)
		}
		offsets[i+1] = offsets[i] + states[i].Documents
	}
	return states, offsets, nil
}

// LinkUnits is one unit per band and hash range.
func (c *clusterCore) LinkUnits(workersPerBand int) int { return c.bands * workersPerBand }

// DeciderFiles: the decider reads the task's ids for the keepers it holds.
func (c *clusterCore) DeciderFiles() []string { return []string{"ids", "ids" + stringsIndexExt} }

// CheckDistributed refuses an earlier run's index: the distributed
// resolve does not read one yet.
func (c *clusterCore) CheckDistributed() error {
	if c.index != "" {
		return fmt.Errorf("%s: index: deduplicating against an earlier run's index is not supported in distributed runs yet", c.name)
	}
	return nil
}

// Link finds the links of one link unit.
func (c *clusterCore) Link(ctx context.Context, job pipeline.LinkJob) error {
	states, offsets, err := sealedTasks(ctx, job.Fetch, job.Tasks)
	if err != nil {
		return err
	}
	band, part := job.Unit/job.WorkersPerBand, job.Unit%job.WorkersPerBand
	src, err := openTaskBand(ctx, job, states, offsets, band)
	if err != nil {
		return err
	}
	defer src.Close()
	var index *runWriter
	if job.Index != "" && part == 0 {
		// The first unit of a band reads all of it: it also writes the
		// band's index file, the run-wide (key, document) records.
		var keyed uint64
		for _, st := range states {
			keyed += st.Keyed
		}
		if index, err = createRun(filepath.Join(job.Index, fmt.Sprintf("band-%03d.kd", band)), keyed, nil); err != nil {
			return err
		}
		defer index.abort()
		src.tee = index
	}
	r := &resolver{core: c, counts: map[string]int64{}}
	defer r.close()
	if c.k > 0 {
		sigs, err := openTaskFixed(ctx, job.Fetch, "sigs.fx", offsets)
		if err != nil {
			return err
		}
		r.useSigs(sigs)
	}
	uf := NewUnionFind()
	if c.keep == "first" {
		r.parents = map[uint64]uint64{}
	}
	lo, hi := keyRange(part, job.WorkersPerBand)
	err = r.linkGroups(ctx, uf, src, func(key uint64) bool { return key >= lo && key <= hi })
	if err != nil {
		return fmt.Errorf("band %d: %w", band, err)
	}
	if index != nil {
		if err := index.commit(); err != nil {
			return err
		}
	}
	if err := writeLinks(filepath.Join(job.Out, linksFile), r.parents, uf); err != nil {
		return err
	}
	return pipeline.WriteJSON(filepath.Join(job.Out, linkedFile), r.counts)
}

// keyRange is the part-th of parts equal slices of the key space, bounds
// included.
func keyRange(part, parts int) (lo, hi uint64) {
	width := math.MaxUint64 / uint64(parts)
	lo = uint64(part) * width
	hi = lo + width - 1
	if part == parts-1 {
		hi = math.MaxUint64
	}
	return lo, hi
}

// writeLinks writes (document, linked document) pairs sorted by document:
// keep: first's parents, or each cluster member with its smallest member.
func writeLinks(path string, parents map[uint64]uint64, uf *UnionFind) error {
	var pairs [][2]uint64
	for d, p := range parents {
		pairs = append(pairs, [2]uint64{d, p})
	}
	for _, members := range uf.Components() {
		for _, m := range members[1:] {
			pairs = append(pairs, [2]uint64{m, members[0]})
		}
	}
	slices.SortFunc(pairs, func(a, b [2]uint64) int { return cmpUint64(a[0], b[0]) })
	w, err := CreateFixed(path, 16)
	if err != nil {
		return err
	}
	var rec [16]byte
	for _, p := range pairs {
		PutUint64s(rec[:], p[:])
		if err := w.Append(rec[:]); err != nil {
			return err
		}
	}
	return w.Close()
}

// taskBand merges one band's runs of every task, each task's ordinals
// shifted to the run-wide numbering.
type taskBand struct {
	merged []*RunMerger
	cur    []KeyDoc
	have   []bool
	shift  []uint64
	tee    *runWriter // receives every record Next returns; may be nil
}

func openTaskBand(ctx context.Context, job pipeline.LinkJob, states []sealedState, offsets []uint64, band int) (*taskBand, error) {
	t := &taskBand{}
	for i, st := range states {
		if band >= len(st.Bands) {
			return nil, fmt.Errorf("task %d: %s has %d bands, want more than %d", i, sealedFile, len(st.Bands), band)
		}
		var paths []string
		for _, name := range st.Bands[band] {
			p, err := job.Fetch(ctx, i, name)
			if err != nil {
				t.Close()
				return nil, err
			}
			paths = append(paths, p)
		}
		m, err := MergeRunsIn(job.Scratch, paths)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("task %d band %d: %w", i, band, err)
		}
		t.merged, t.shift = append(t.merged, m), append(t.shift, offsets[i])
		t.cur, t.have = append(t.cur, KeyDoc{}), append(t.have, false)
		if err := t.pull(len(t.merged) - 1); err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

func (t *taskBand) pull(i int) error {
	r, ok, err := t.merged[i].Next()
	r.Doc += t.shift[i]
	t.cur[i], t.have[i] = r, ok
	return err
}

// Next yields the smallest record; the tasks are few, so a linear scan
// over their heads is as fast as a heap.
func (t *taskBand) Next() (KeyDoc, bool, error) {
	best := -1
	for i, ok := range t.have {
		if ok && (best < 0 || compareKeyDoc(t.cur[i], t.cur[best]) < 0) {
			best = i
		}
	}
	if best < 0 {
		return KeyDoc{}, false, nil
	}
	r := t.cur[best]
	if t.tee != nil {
		if err := t.tee.write(r); err != nil {
			return KeyDoc{}, false, err
		}
	}
	return r, true, t.pull(best)
}

func (t *taskBand) Close() error {
	var errs []error
	for _, m := range t.merged {
		errs = append(errs, m.Close())
	}
	return errors.Join(errs...)
}

// taskFixed reads one side file of every task as a single file numbered in
// the run-wide ordinals.
type taskFixed struct {
	files   []*FixedReader
	offsets []uint64
}

func openTaskFixed(ctx context.Context, fetch pipeline.Fetch, name string, offsets []uint64) (*taskFixed, error) {
	t := &taskFixed{offsets: offsets}
	for i := range len(offsets) - 1 {
		p, err := fetch(ctx, i, name)
		if err == nil {
			var f *FixedReader
			if f, err = OpenFixed(p); err == nil {
				t.files = append(t.files, f)
				if f.Count() != offsets[i+1]-offsets[i] {
					err = fmt.Errorf("%s has %d records for %d documents", name, f.Count(), offsets[i+1]-offsets[i])
				}
			}
		}
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("task %d: %w", i, err)
		}
	}
	return t, nil
}

// task returns the task holding run-wide ordinal ord.
func taskOf(offsets []uint64, ord uint64) int {
	i, _ := slices.BinarySearch(offsets, ord+1)
	return i - 1
}

func (t *taskFixed) Read(ord uint64, dst []byte) error {
	i := taskOf(t.offsets, ord)
	if i < 0 || i >= len(t.files) {
		return fmt.Errorf("ordinal %d beyond the %d documents of the tasks", ord, t.offsets[len(t.offsets)-1])
	}
	return t.files[i].Read(ord-t.offsets[i], dst)
}

func (t *taskFixed) Close() error {
	var errs []error
	for _, f := range t.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

func openForeignIDs(dir string) (*StringsReader, error) {
	path := filepath.Join(dir, foreignFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return OpenStrings(path)
}

// Resolve joins the units' links into clusters and writes each task's
// decisions.
func (c *clusterCore) Resolve(ctx context.Context, job pipeline.ResolveJob) error {
	states, offsets, err := sealedTasks(ctx, job.Fetch, job.Tasks)
	if err != nil {
		return err
	}
	r := &resolver{core: c, counts: map[string]int64{"documents": int64(offsets[job.Tasks])}}
	defer r.close()
	for _, st := range states {
		r.counts["spills"] += int64(st.Spills)
	}
	meta, err := openTaskFixed(ctx, job.Fetch, "meta.fx", offsets)
	if err != nil {
		return err
	}
	r.meta = meta
	uf := NewUnionFind()
	parents := map[uint64]uint64{}
	for u := range job.Units {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.readLinks(ctx, job, u, uf, parents); err != nil {
			return fmt.Errorf("link unit %d: %w", u, err)
		}
	}
	for d, p := range parents {
		uf.Union(p, d)
	}
	decs, _, err := r.decide(uf)
	if err != nil {
		return err
	}
	ids, err := openTaskIDs(ctx, job.Fetch, offsets)
	if err != nil {
		return err
	}
	defer ids.Close()
	if job.Index != "" {
		if err := c.writeTaskIndex(ctx, job, offsets, ids, decs); err != nil {
			return fmt.Errorf("write index: %w", err)
		}
	}
	for i := range job.Tasks {
		lo, hi := offsets[i], offsets[i+1]
		from, _ := slices.BinarySearchFunc(decs, lo, func(d decision, o uint64) int { return cmpUint64(d.ord, o) })
		to, _ := slices.BinarySearchFunc(decs, hi, func(d decision, o uint64) int { return cmpUint64(d.ord, o) })
		counts := map[string]int64{}
		if i == 0 { // the stage's counts are the run's; they are added up over the tasks
			counts = r.counts
		}
		if err := writeTaskDecisions(job.Out[i], decs[from:to], lo, hi, ids, counts); err != nil {
			return fmt.Errorf("task %d: %w", i, err)
		}
	}
	return nil
}

// readLinks adds one unit's links: keep: first keeps each document's
// earliest linked document over all bands; the other policies cluster.
func (r *resolver) readLinks(ctx context.Context, job pipeline.ResolveJob, unit int, uf *UnionFind, parents map[uint64]uint64) error {
	path, err := job.FetchLink(ctx, unit, linkedFile)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	counts := map[string]int64{}
	if err == nil {
		err = json.Unmarshal(data, &counts)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", linkedFile, err)
	}
	for k, n := range counts {
		r.counts[k] += n
	}
	if path, err = job.FetchLink(ctx, unit, linksFile); err != nil {
		return err
	}
	links, err := OpenFixed(path)
	if err != nil {
		return err
	}
	defer links.Close()
	var pair [2]uint64
	return links.Each(func(_ uint64, rec []byte) error {
		Uint64s(rec, pair[:])
		d, p := pair[0], pair[1]
		if r.core.keep != "first" {
			uf.Union(p, d)
		} else if cur, ok := parents[d]; !ok || p < cur {
			parents[d] = p
		}
		return nil
	})
}

// writeTaskDecisions writes the decisions of the documents [lo, hi) in the
// task's own ordinals; a keeper outside the task becomes a reference into
// the task's foreign-ids.
func writeTaskDecisions(dir string, decs []decision, lo, hi uint64, ids *taskStrings, counts map[string]int64) error {
	var foreign []uint64
	for _, d := range decs {
		if d.keeper < lo || d.keeper >= hi {
			foreign = append(foreign, d.keeper)
		}
	}
	slices.Sort(foreign)
	foreign = slices.Compact(foreign)
	local := make([]decision, len(decs))
	for i, d := range decs {
		local[i] = decision{ord: d.ord - lo, keeper: d.keeper - lo, size: d.size}
		if d.keeper < lo || d.keeper >= hi {
			j, _ := slices.BinarySearch(foreign, d.keeper)
			local[i].keeper = foreignDocBit | uint64(j)
		}
	}
	w, err := CreateStrings(filepath.Join(dir, foreignFile))
	if err != nil {
		return err
	}
	for _, k := range foreign {
		id, err := ids.Get(k)
		if err == nil {
			err = w.Append(id)
		}
		if err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := writeDecisionFile(filepath.Join(dir, "decisions.fx"), local); err != nil {
		return err
	}
	return writeResolved(dir, counts)
}

// taskStrings reads every task's ids by run-wide ordinal.
type taskStrings struct {
	files   []*StringsReader
	offsets []uint64
}

func openTaskIDs(ctx context.Context, fetch pipeline.Fetch, offsets []uint64) (*taskStrings, error) {
	t := &taskStrings{offsets: offsets}
	for i := range len(offsets) - 1 {
		if _, err := fetch(ctx, i, "ids"+stringsIndexExt); err != nil {
			t.Close()
			return nil, err
		}
		p, err := fetch(ctx, i, "ids")
		if err != nil {
			t.Close()
			return nil, err
		}
		f, err := OpenStrings(p)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("task %d: %w", i, err)
		}
		t.files = append(t.files, f)
	}
	return t, nil
}

func (t *taskStrings) Get(ord uint64) (string, error) {
	i := taskOf(t.offsets, ord)
	if i < 0 || i >= len(t.files) {
		return "", fmt.Errorf("ordinal %d beyond the %d documents of the tasks", ord, t.offsets[len(t.offsets)-1])
	}
	return t.files[i].Get(ord - t.offsets[i])
}

func (t *taskStrings) Close() {
	for _, f := range t.files {
		f.Close()
	}
}

// writeTaskIndex writes the index files a one-machine Resolve writes
// besides the bands (which the link units write): every task's ids and
// signatures in a row, each document's keeper, and index.json.
func (c *clusterCore) writeTaskIndex(ctx context.Context, job pipeline.ResolveJob, offsets []uint64, ids *taskStrings, decs []decision) error {
	w, err := CreateStrings(filepath.Join(job.Index, "ids"))
	if err != nil {
		return err
	}
	for _, f := range ids.files {
		if err := f.Each(func(_ uint64, id string) error { return w.Append(id) }); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if c.k > 0 {
		if err := concatTaskFixed(ctx, job.Fetch, "sigs.fx", len(offsets)-1, filepath.Join(job.Index, "sigs.fx")); err != nil {
			return err
		}
	}
	keepers, err := CreateFixed(filepath.Join(job.Index, keepersFile), 8)
	if err != nil {
		return err
	}
	var rec [8]byte
	for ord := range offsets[len(offsets)-1] {
		k := ord
		if len(decs) > 0 && decs[0].ord == ord {
			k, decs = decs[0].keeper, decs[1:]
		}
		binary.LittleEndian.PutUint64(rec[:], k)
		if err := keepers.Append(rec[:]); err != nil {
			return err
		}
	}
	if err := keepers.Close(); err != nil {
		return err
	}
	info := indexInfo{Stage: c.name, Version: pipeline.Version, Documents: offsets[len(offsets)-1], Bands: c.bands, SigValues: c.k}
	info.Params, _ = json.Marshal(c.params)
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(job.Index, indexMeta), append(data, '\n'), 0o644)
}

// concatTaskFixed writes the tasks' side file name as one file.
func concatTaskFixed(ctx context.Context, fetch pipeline.Fetch, name string, tasks int, dst string) error {
	var w *FixedWriter
	for i := range tasks {
		p, err := fetch(ctx, i, name)
		if err != nil {
			return err
		}
		r, err := OpenFixed(p)
		if err != nil {
			return err
		}
		if w == nil {
			if w, err = CreateFixed(dst, r.Size()); err != nil {
				r.Close()
				return err
			}
		}
		err = r.Each(func(_ uint64, rec []byte) error { return w.Append(rec) })
		r.Close()
		if err != nil {
			return err
		}
	}
	if w == nil {
		return nil
	}
	return w.Close()
}

var (
	_ pipeline.Distributed = (*minhashStage)(nil)
	_ pipeline.Distributed = (*exactStage)(nil)
	_ pipeline.Sealer      = (*clusterCollector)(nil)
)
