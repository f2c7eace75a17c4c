package dedup

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"winnow/pipeline"
)

// Columns the dedup stages add.
const (
	ColDupCluster     = "dup_cluster"      // id of the kept document of the row's cluster
	ColDupClusterSize = "dup_cluster_size" // documents the cluster stands for (earlier dedup stages' sizes summed)
	ColDupOf          = "dup_of"           // on removed rows: the id of the kept document they duplicate
	colQualityScore   = "quality_score"
)

// Keep policies: which member of a cluster survives.
var KeepPolicies = []string{"first", "longest", "quality"}

// keyedRows is what a dedup stage's Process keeps with a batch: per row,
// bands keys and, when candidates are verified, the signature.
type keyedRows struct {
	has  []bool
	keys []uint64 // bands per row
	sigs []uint32 // k per row; nil without verification
}

// clusterCore is what the exact and the MinHash stage share: how keys
// become clusters and clusters become decisions.
type clusterCore struct {
	name   string // stage name, the drop_stage
	reason string // drop_reason of removed rows
	bands  int
	k      int     // signature length kept for verification; 0: none
	verify float64 // minimum estimated Jaccard of a linked pair (with k > 0)
	keep   string
	memory int64 // spill budget; 0: derived from the run's max_memory
	// params are the hashing options an index records: an index is only
	// usable by a stage with the same ones.
	params any
	index  string // an earlier run's index to deduplicate against
}

// spillBudget is the bytes of band records held before a sorted run is
// written: the stage's own setting, else a quarter of the run's budget
// (the rest is for batches in flight and the models), else 256 MiB.
func (c *clusterCore) spillBudget(runBudget int64) int64 {
	switch {
	case c.memory > 0:
		return c.memory
	case runBudget > 0:
		return runBudget / 4
	}
	return 256 << 20
}

// checkMemory validates a stage's memory option against its bands.
func checkMemory(memory int64, bands int, where string) error {
	if memory < 0 {
		return fmt.Errorf("%s: memory: %d must be 0 (a quarter of max_memory) or more", where, memory)
	}
	if memory != 0 && memory < MinSpillBudget(bands) {
		return fmt.Errorf("%s: memory: %d is below the minimum of %d for %d bands (0 = a quarter of max_memory)", where, memory, MinSpillBudget(bands), bands)
	}
	return nil
}

// metaSize is the fixed record kept per ordinal for the keep policy:
// text length, quality score bits, and the size the row already stands for.
const metaSize = 24

type clusterCollector struct {
	core   *clusterCore
	owner  any // the stage value Process keys its side data by
	env    pipeline.GlobalEnv
	spill  *BandSpiller
	sigs   *FixedWriter
	meta   *FixedWriter
	ids    *StringsWriter
	n      uint64 // documents numbered
	keyed  uint64 // documents with keys
	sigBuf []byte
	rec    [metaSize]byte
}

func (c *clusterCore) newCollector(owner any, env pipeline.GlobalEnv) (*clusterCollector, error) {
	col := &clusterCollector{core: c, owner: owner, env: env}
	var err error
	if col.spill, err = NewBandSpiller(filepath.Join(env.WorkDir, "bands"), c.bands, c.spillBudget(env.MemoryBudget)); err != nil {
		return nil, err
	}
	if col.meta, err = CreateFixed(filepath.Join(env.WorkDir, "meta.fx"), metaSize); err != nil {
		return nil, err
	}
	if col.ids, err = CreateStrings(filepath.Join(env.WorkDir, "ids")); err != nil {
		return nil, err
	}
	if c.k > 0 {
		col.sigBuf = make([]byte, 4*c.k)
		if col.sigs, err = CreateFixed(filepath.Join(env.WorkDir, "sigs.fx"), 4*c.k); err != nil {
			return nil, err
		}
	}
	return col, nil
}

// Add numbers b's alive rows and writes their keys and side records.
func (col *clusterCollector) Add(b *pipeline.Batch) error {
	kr, _ := b.Side(col.owner).(*keyedRows)
	if kr == nil {
		return fmt.Errorf("batch %d has no keys: Process did not run", b.Seq)
	}
	ids := b.Column(pipeline.ColID).(*array.String)
	texts := b.Texts()
	quality := floatColumn(b, colQualityScore)
	weight, _ := b.Column(ColDupClusterSize).(*array.Int64)
	bands := col.core.bands
	for i := 0; i < b.Len(); i++ {
		if !b.Alive(i) {
			continue
		}
		ord := col.n
		col.n++
		if err := col.ids.Append(ids.Value(i)); err != nil {
			return err
		}
		q, w := math.Inf(-1), int64(1)
		if quality != nil && quality.IsValid(i) && !math.IsNaN(quality.Value(i)) {
			q = quality.Value(i)
		}
		if weight != nil && weight.IsValid(i) {
			w = weight.Value(i)
		}
		// keep: longest compares characters, not bytes: 你好，世界 is not
		// longer than 你好, 世界 for being full-width.
		binary.LittleEndian.PutUint64(col.rec[0:], uint64(utf8.RuneCountInString(texts.Value(i))))
		binary.LittleEndian.PutUint64(col.rec[8:], math.Float64bits(q))
		binary.LittleEndian.PutUint64(col.rec[16:], uint64(w))
		if err := col.meta.Append(col.rec[:]); err != nil {
			return err
		}
		if col.sigs != nil {
			// Every ordinal has a slot; rows without keys are never read.
			clear(col.sigBuf)
			if kr.has[i] {
				PutUint32s(col.sigBuf, kr.sigs[i*col.core.k:(i+1)*col.core.k])
			}
			if err := col.sigs.Append(col.sigBuf); err != nil {
				return err
			}
		}
		if !kr.has[i] {
			continue
		}
		col.keyed++
		for j, key := range kr.keys[i*bands : (i+1)*bands] {
			if err := col.spill.Add(j, KeyDoc{Key: key, Doc: ord}); err != nil {
				return err
			}
		}
	}
	return nil
}

func floatColumn(b *pipeline.Batch, name string) *array.Float64 {
	f, _ := b.Column(name).(*array.Float64)
	return f
}

// Resolve links candidates band by band, clusters them and writes the
// decisions of every row in a cluster, sorted by ordinal.
func (col *clusterCollector) Resolve(ctx context.Context) (pipeline.Decider, error) {
	runs, err := col.spill.Finish()
	if err != nil {
		return nil, err
	}
	for _, w := range []interface{ Close() error }{col.meta, col.ids} {
		if err := w.Close(); err != nil {
			return nil, err
		}
	}
	if col.sigs != nil {
		if err := col.sigs.Close(); err != nil {
			return nil, err
		}
	}
	r := &resolver{core: col.core, counts: map[string]int64{"documents": int64(col.n), "spills": int64(col.spill.Spills())}, log: col.env.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	defer r.close()
	if err := r.open(col.env); err != nil {
		return nil, err
	}
	uf := NewUnionFind()
	if r.core.keep == "first" {
		r.parents = map[uint64]uint64{}
	}
	for band, paths := range runs {
		if err := r.linkBand(ctx, uf, band, paths); err != nil {
			return nil, err
		}
	}
	for d, p := range r.parents {
		uf.Union(p, d)
	}
	decPath := filepath.Join(col.env.WorkDir, "decisions.fx")
	removed, err := r.writeDecisions(uf, decPath)
	if err != nil {
		return nil, err
	}
	if col.env.IndexDir != "" {
		if err := col.writeIndex(col.env.IndexDir, runs, r.prior, removed); err != nil {
			return nil, err
		}
	}
	r.log.Info("dedup resolved", "stage", col.core.name, "documents", col.n, "clusters", r.counts["clusters"],
		"removed", r.counts["removed"], "index_matches", r.counts["index_matches"], "candidate_pairs", r.counts["candidate_pairs"], "spills", r.counts["spills"])
	if err := writeResolved(col.env.WorkDir, r.counts); err != nil {
		return nil, err
	}
	d, err := newDecider(col.core, col.owner, decPath, filepath.Join(col.env.WorkDir, "ids"), r.counts)
	if err != nil {
		return nil, err
	}
	d.prior, r.prior = r.prior, nil // the decider reads the earlier ids
	return d, nil
}

// resolvedFile holds a finished Resolve's counters beside its decisions.
const resolvedFile = "resolved.json"

func writeResolved(dir string, counts map[string]int64) error {
	data, err := json.Marshal(counts)
	if err == nil {
		err = pipeline.WriteFileAtomic(filepath.Join(dir, resolvedFile), data)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", resolvedFile, err)
	}
	return nil
}

// reopenDecider is the decider a finished Resolve in env.WorkDir left, for
// a run resumed after that pass.
func (c *clusterCore) reopenDecider(owner any, env pipeline.GlobalEnv) (pipeline.Decider, error) {
	data, err := os.ReadFile(filepath.Join(env.WorkDir, resolvedFile))
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	counts := map[string]int64{}
	if err := json.Unmarshal(data, &counts); err != nil {
		return nil, fmt.Errorf("resume: %s: %w", resolvedFile, err)
	}
	d, err := newDecider(c, owner, filepath.Join(env.WorkDir, "decisions.fx"), filepath.Join(env.WorkDir, "ids"), counts)
	if err != nil {
		return nil, err
	}
	if d.foreign, err = openForeignIDs(env.WorkDir); err != nil {
		d.Close()
		return nil, err
	}
	index := c.index
	if index == "" {
		index = env.PriorIndexDir
	}
	if index != "" {
		if d.prior, err = openIndex(index, c, nil); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// resolver holds the side files while the clusters are built.
type resolver struct {
	core       *clusterCore
	sigs, meta recordReader
	prior      *priorIndex
	counts     map[string]int64
	log        *slog.Logger
	a, b       []byte
	sa, sb     []uint32
	aDoc       uint64 // the document whose signature a holds, when aOK
	aOK        bool
	// parents holds, with keep: first, each document's earliest linked
	// earlier document (nil for the other policies, which cluster).
	parents map[uint64]uint64
}

func (r *resolver) open(env pipeline.GlobalEnv) error {
	dir := env.WorkDir
	var err error
	meta, err := OpenFixed(filepath.Join(dir, "meta.fx"))
	if err != nil {
		return err
	}
	r.meta = meta
	if r.core.k > 0 {
		sigs, err := OpenFixed(filepath.Join(dir, "sigs.fx"))
		if err != nil {
			return err
		}
		r.useSigs(sigs)
	}
	index := r.core.index
	if index == "" {
		index = env.PriorIndexDir
	}
	if index != "" {
		if r.prior, err = openIndex(index, r.core, env.Retracted); err != nil {
			return err
		}
		r.counts["index_documents"] = int64(r.prior.info.Documents)
	}
	return nil
}

// recordReader reads fixed-size records by ordinal: one side file, or
// the side files of several tasks in a row.
type recordReader interface {
	Read(i uint64, dst []byte) error
	Close() error
}

func (r *resolver) useSigs(sigs recordReader) {
	r.sigs = sigs
	r.a, r.b = make([]byte, 4*r.core.k), make([]byte, 4*r.core.k)
	r.sa, r.sb = make([]uint32, r.core.k), make([]uint32, r.core.k)
}

func (r *resolver) close() {
	if r.meta != nil {
		r.meta.Close()
	}
	if r.sigs != nil {
		r.sigs.Close()
	}
	r.prior.close()
}

// maxGroup bounds the documents of one band key held at once; tries bounds
// the earlier members a document is verified against.
const (
	maxGroup = 4096
	tries    = 8
)

func (r *resolver) linkBand(ctx context.Context, uf *UnionFind, band int, paths []string) error {
	m, err := openBand(paths, r.prior, band)
	if err != nil {
		return err
	}
	defer m.Close()
	return r.linkGroups(ctx, uf, m, nil)
}

// linkGroups links the documents of every group of src whose key keep
// accepts (nil: all).
func (r *resolver) linkGroups(ctx context.Context, uf *UnionFind, src KeyDocSource, keep func(key uint64) bool) error {
	groups := 0
	return ForEachGroup(src, maxGroup, func(key uint64, docs []uint64) error {
		if keep != nil && !keep(key) {
			return nil
		}
		if groups++; groups%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if r.parents != nil {
			return r.linkEarlier(docs)
		}
		return r.linkGroup(uf, docs)
	})
}

// rank orders documents by age: an earlier index's documents (published
// before this run) first, then this run's in input order.
func rank(doc uint64) uint64 { return doc ^ indexDocBit }

// linkEarlier is keep: first's linking: a document is removed when it
// duplicates an earlier one, and points to the earliest such document
// found in any band (index documents count as earliest). Every earlier
// member of the group is a candidate, so that which documents stay
// depends only on the documents before them: one run over day 1 and day 2
// keeps what a run over day 1 followed by an incremental run over day 2
// keeps. (Clustering would let a day-2 document bridge two dissimilar
// day-1 documents and remove a published one; a window of candidates
// would make the outcome depend on which other documents share the key.)
func (r *resolver) linkEarlier(docs []uint64) error {
	first := len(docs) // the group's first index document
	for i, d := range docs {
		if d&indexDocBit != 0 {
			first = i
			break
		}
	}
	for j, d := range docs[:first] {
		if err := r.linkToEarliest(d, docs[first:]); err != nil {
			return err
		}
		if err := r.linkToEarliest(d, docs[:j]); err != nil {
			return err
		}
	}
	return nil
}

// linkToEarliest makes the first of candidates (ascending by rank) that d
// duplicates d's parent, unless d has an earlier parent already.
func (r *resolver) linkToEarliest(d uint64, candidates []uint64) error {
	for _, c := range candidates {
		if p, ok := r.parents[d]; ok && rank(p) <= rank(c) {
			return nil
		}
		ok, err := r.linked(c, d)
		if err != nil {
			return err
		}
		if ok {
			r.parents[d] = c
			return nil
		}
	}
	return nil
}

// linked reports whether b duplicates a: the same band key suffices
// without signatures, else the signatures must agree enough.
func (r *resolver) linked(a, b uint64) (bool, error) {
	if r.sigs == nil {
		return true, nil
	}
	r.counts["candidate_pairs"]++
	ok, err := r.similar(a, b)
	if ok {
		r.counts["verified_pairs"]++
	}
	return ok, err
}

// linkGroup links every document of a band group to an earlier one: to
// the first without verification, else to the first of up to `tries`
// earlier members whose signature agrees enough. An earlier index's
// documents (last in the group) are never linked to each other: they were
// deduplicated when the index was written.
func (r *resolver) linkGroup(uf *UnionFind, docs []uint64) error {
	for j := 1; j < len(docs); j++ {
		d := docs[j]
		if docs[0]&indexDocBit != 0 {
			return nil
		}
		if r.sigs == nil {
			uf.Union(docs[0], d)
			continue
		}
		for k := 0; k < j && k < tries; k++ {
			if docs[k]&indexDocBit != 0 {
				break
			}
			if uf.Same(docs[k], d) {
				break
			}
			r.counts["candidate_pairs"]++
			ok, err := r.similar(docs[k], d)
			if err != nil {
				return err
			}
			if ok {
				r.counts["verified_pairs"]++
				uf.Union(docs[k], d)
				break
			}
		}
	}
	return nil
}

func (r *resolver) similar(a, b uint64) (bool, error) {
	// a is mostly a group's first member, compared with each of the
	// others: its signature is read once.
	if !r.aOK || r.aDoc != a {
		r.aOK = false
		if err := r.readSig(a, r.a); err != nil {
			return false, err
		}
		Uint32s(r.a, r.sa)
		r.aDoc, r.aOK = a, true
	}
	if err := r.readSig(b, r.b); err != nil {
		return false, err
	}
	Uint32s(r.b, r.sb)
	return Similarity(r.sa, r.sb) >= r.core.verify, nil
}

func (r *resolver) readSig(doc uint64, dst []byte) error {
	if doc&indexDocBit != 0 {
		return r.prior.sigs.Read(doc&^indexDocBit, dst)
	}
	return r.sigs.Read(doc, dst)
}

// decisionSize is one decision record: ordinal, kept ordinal, cluster size.
const decisionSize = 24

type docMeta struct {
	length  uint64
	quality float64
	weight  int64
}

func (r *resolver) readMeta(ord uint64) (docMeta, error) {
	var rec [metaSize]byte
	if err := r.meta.Read(ord, rec[:]); err != nil {
		return docMeta{}, err
	}
	return docMeta{
		length:  binary.LittleEndian.Uint64(rec[0:]),
		quality: math.Float64frombits(binary.LittleEndian.Uint64(rec[8:])),
		weight:  int64(binary.LittleEndian.Uint64(rec[16:])),
	}, nil
}

// removal is a removed document of this run and its cluster's keeper.
type removal struct{ ord, keeper uint64 }

// decision is one member of a cluster: its ordinal, its cluster's kept
// member, and the documents the cluster stands for.
type decision struct{ ord, keeper, size uint64 }

// decide picks each cluster's kept member. It returns one decision per
// member of this run, sorted by ordinal, and the removed ordinals with
// their keepers, sorted.
func (r *resolver) decide(uf *UnionFind) ([]decision, []removal, error) {
	comps := uf.Components()
	var decs []decision
	var removed []removal
	for _, members := range comps {
		keeper, size, err := r.choose(members)
		if err != nil {
			return nil, nil, err
		}
		for _, m := range members {
			if m&indexDocBit != 0 {
				continue
			}
			decs = append(decs, decision{m, keeper, size})
			if m != keeper {
				removed = append(removed, removal{m, keeper})
				if keeper&indexDocBit != 0 {
					r.counts["index_matches"]++
				}
			}
		}
	}
	r.counts["clusters"] = int64(len(comps))
	r.counts["removed"] = int64(len(removed))
	slices.SortFunc(decs, func(a, b decision) int { return cmpUint64(a.ord, b.ord) })
	slices.SortFunc(removed, func(a, b removal) int { return cmpUint64(a.ord, b.ord) })
	return decs, removed, nil
}

// writeDecisions writes the decisions, one record each, for the pass that
// applies them, and returns the removed ordinals with their keepers.
func (r *resolver) writeDecisions(uf *UnionFind, path string) ([]removal, error) {
	decs, removed, err := r.decide(uf)
	if err != nil {
		return nil, err
	}
	return removed, writeDecisionFile(path, decs)
}

func writeDecisionFile(path string, decs []decision) error {
	w, err := CreateFixed(path, decisionSize)
	if err != nil {
		return err
	}
	var rec [decisionSize]byte
	for _, d := range decs {
		PutUint64s(rec[:], []uint64{d.ord, d.keeper, d.size})
		if err := w.Append(rec[:]); err != nil {
			return err
		}
	}
	return w.Close()
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// choose applies the keep policy; ties go to the earliest member, so the
// choice depends only on the documents, never on the worker count. A
// document of an earlier index always wins: it is already published.
func (r *resolver) choose(members []uint64) (keeper, size uint64, err error) {
	var best docMeta
	for i, m := range members {
		if m&indexDocBit != 0 {
			// Members are sorted: the earlier index's come last. The one
			// that linked may have been removed itself: report its keeper.
			k, err := r.prior.keeper(m &^ indexDocBit)
			return k | indexDocBit, size + uint64(len(members)-i), err
		}
		md, err := r.readMeta(m)
		if err != nil {
			return 0, 0, err
		}
		size += uint64(max(md.weight, 1))
		better := false
		switch r.core.keep {
		case "longest":
			better = md.length > best.length
		case "quality":
			better = md.quality > best.quality
		}
		if i == 0 || better {
			keeper, best = m, md
		}
	}
	return keeper, size, nil
}

// decider streams the sorted decisions alongside the staged rows.
type decider struct {
	core  *clusterCore
	owner any
	decs  *FixedReader
	ids   *StringsReader
	prior *priorIndex // ids of an earlier index's documents
	// foreign holds, in a distributed run, the ids of keepers that other
	// tasks read (foreignDocBit set on their references).
	foreign *StringsReader
	counts  map[string]int64
	next    uint64 // ordinal of the next alive row
	pos     uint64 // next decision record
	cur     [3]uint64
	have    bool
	rec     [decisionSize]byte
}

// rowDecision is what Apply needs of one row.
type rowDecision struct {
	inCluster bool
	removed   bool
	cluster   string
	dupOf     string
	size      int64
}

func newDecider(core *clusterCore, owner any, decPath, idsPath string, counts map[string]int64) (*decider, error) {
	d := &decider{core: core, owner: owner, counts: counts}
	var err error
	if d.decs, err = OpenFixed(decPath); err != nil {
		return nil, err
	}
	if d.ids, err = OpenStrings(idsPath); err != nil {
		d.decs.Close()
		return nil, err
	}
	return d, d.advance()
}

func (d *decider) advance() error {
	d.have = d.pos < d.decs.Count()
	if !d.have {
		return nil
	}
	if err := d.decs.Read(d.pos, d.rec[:]); err != nil {
		return err
	}
	Uint64s(d.rec[:], d.cur[:])
	d.pos++
	return nil
}

// Attach gives b's alive rows their decisions.
func (d *decider) Attach(b *pipeline.Batch) error {
	rows := make([]rowDecision, b.Len())
	for i := range rows {
		if !b.Alive(i) {
			continue
		}
		ord := d.next
		d.next++
		if !d.have || d.cur[0] != ord {
			continue
		}
		keeperID, err := d.id(d.cur[1])
		if err != nil {
			return err
		}
		rows[i] = rowDecision{inCluster: true, cluster: keeperID, size: int64(d.cur[2]), removed: d.cur[1] != ord}
		if rows[i].removed {
			rows[i].dupOf = keeperID
		}
		if err := d.advance(); err != nil {
			return err
		}
	}
	b.SetSide(d.owner, rows)
	return nil
}

func (d *decider) id(doc uint64) (string, error) {
	switch {
	case doc&indexDocBit != 0:
		return d.prior.ids.Get(doc &^ indexDocBit)
	case doc&foreignDocBit != 0 && d.foreign != nil:
		return d.foreign.Get(doc &^ foreignDocBit)
	}
	return d.ids.Get(doc)
}

func (d *decider) Counts() map[string]int64 { return d.counts }

// Close checks that every decision found its row: a mismatch means the
// staged rows and the ordinals disagree, which would remove wrong documents.
func (d *decider) Close() error {
	defer d.decs.Close()
	defer d.ids.Close()
	defer d.prior.close()
	if d.foreign != nil {
		defer d.foreign.Close()
	}
	if d.have {
		return fmt.Errorf("internal error: decision for ordinal %d left over after %d rows", d.cur[0], d.next)
	}
	return nil
}

// apply sets the dedup columns and drops the removed rows. Rows outside
// any cluster keep what an earlier dedup stage set (or null, size 1).
func (c *clusterCore) apply(b *pipeline.Batch, rows []rowDecision) error {
	mem := b.Allocator()
	prevCluster, _ := b.Column(ColDupCluster).(*array.String)
	prevSize, _ := b.Column(ColDupClusterSize).(*array.Int64)
	prevOf, _ := b.Column(ColDupOf).(*array.String)
	cluster, size, of := array.NewStringBuilder(mem), array.NewInt64Builder(mem), array.NewStringBuilder(mem)
	defer cluster.Release()
	defer size.Release()
	defer of.Release()
	for i, r := range rows {
		switch {
		case r.inCluster:
			cluster.Append(r.cluster)
			size.Append(r.size)
			if r.removed {
				of.Append(r.dupOf)
				b.Drop(i, c.name, c.reason)
			} else {
				of.AppendNull()
			}
			continue
		case prevCluster != nil && prevCluster.IsValid(i):
			cluster.Append(prevCluster.Value(i))
		default:
			cluster.AppendNull()
		}
		if prevSize != nil && prevSize.IsValid(i) {
			size.Append(prevSize.Value(i))
		} else {
			size.Append(1)
		}
		if prevOf != nil && prevOf.IsValid(i) {
			of.Append(prevOf.Value(i))
		} else {
			of.AppendNull()
		}
	}
	for _, col := range []struct {
		name string
		typ  arrow.DataType
		b    array.Builder
	}{{ColDupCluster, arrow.BinaryTypes.String, cluster}, {ColDupClusterSize, arrow.PrimitiveTypes.Int64, size}, {ColDupOf, arrow.BinaryTypes.String, of}} {
		if err := b.SetColumn(arrow.Field{Name: col.name, Type: col.typ, Nullable: true}, col.b.NewArray()); err != nil {
			return err
		}
	}
	return nil
}
