package dedup

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"winnow/pipeline"
)

// An index keeps what a later run needs to deduplicate against this one:
// per band a sorted run file of every document's keys, the ids, for
// verification the signatures, and per document the index ordinal of its
// cluster's kept document (keepers.fx). A run with `index:` links its
// documents to the earlier ones; the index it writes covers both (its own
// documents first, then the earlier index's), so each nightly run only
// needs the last run's index.
//
// Removed documents keep their keys: a new document close to one that
// was removed as a near-duplicate joins that cluster, as it would in one
// run over all the documents, and dup_of names the cluster's kept
// document through keepers.fx.

// indexDocBit marks an earlier index's document among this run's ordinals:
// such documents sort after every document of the run in a band group.
const indexDocBit = 1 << 63

const indexMeta = "index.json"

type indexInfo struct {
	Stage     string          `json:"stage"`
	Version   string          `json:"winnow_version"`
	Documents uint64          `json:"documents"`
	Bands     int             `json:"bands"`
	SigValues int             `json:"signature_values"`
	Params    json.RawMessage `json:"params"`
}

// priorIndex is an earlier run's index opened for reading.
type priorIndex struct {
	dir  string
	info indexInfo
	ids  *StringsReader
	sigs *FixedReader
	// keepers maps an ordinal to its cluster's kept document; nil in an
	// index written before keepers.fx, which held kept documents only.
	keepers *FixedReader
	// retracted marks, one bit per document, those whose input files
	// changed or vanished since: their keys are skipped, so they match
	// nothing and leave the index this run writes.
	retracted []uint64
}

// openIndex opens dir and checks it was built with the same hashing as
// core: keys of other parameters would never match, silently. retracted
// (may be nil) names the documents to leave out.
func openIndex(dir string, core *clusterCore, retracted func(id string) bool) (*priorIndex, error) {
	data, err := os.ReadFile(filepath.Join(dir, indexMeta))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w (give the index/<stage> directory of an earlier run)", dir, err)
	}
	p := &priorIndex{dir: dir}
	if err := json.Unmarshal(data, &p.info); err != nil {
		return nil, fmt.Errorf("index %s: %s: %w", dir, indexMeta, err)
	}
	want, _ := json.Marshal(core.params)
	var got bytes.Buffer
	json.Compact(&got, p.info.Params)
	if p.info.Stage != core.name || p.info.Bands != core.bands || p.info.SigValues != core.k || !bytes.Equal(got.Bytes(), want) {
		return nil, fmt.Errorf("index %s was built by %s with %s (signature values %d); this stage is %s with %s (%d): their keys cannot match",
			dir, p.info.Stage, got.Bytes(), p.info.SigValues, core.name, want, core.k)
	}
	if p.ids, err = OpenStrings(filepath.Join(dir, "ids")); err != nil {
		return nil, err
	}
	if core.k > 0 {
		if p.sigs, err = OpenFixed(filepath.Join(dir, "sigs.fx")); err != nil {
			p.close()
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, keepersFile)); err == nil {
		if p.keepers, err = OpenFixed(filepath.Join(dir, keepersFile)); err != nil {
			p.close()
			return nil, err
		}
	}
	if retracted != nil {
		if err := p.markRetracted(retracted); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

func (p *priorIndex) markRetracted(retracted func(id string) bool) error {
	p.retracted = make([]uint64, (p.info.Documents+63)/64)
	return p.ids.Each(func(i uint64, id string) error {
		if retracted(id) {
			p.retracted[i/64] |= 1 << (i % 64)
		}
		return nil
	})
}

const keepersFile = "keepers.fx"

// keeper returns the kept document of doc's cluster, or doc itself when
// that one was retracted.
func (p *priorIndex) keeper(doc uint64) (uint64, error) {
	if p == nil || p.keepers == nil {
		return doc, nil
	}
	var rec [8]byte
	if err := p.keepers.Read(doc, rec[:]); err != nil {
		return 0, err
	}
	k := binary.LittleEndian.Uint64(rec[:])
	if p.isRetracted(k) {
		return doc, nil
	}
	return k, nil
}

func (p *priorIndex) isRetracted(doc uint64) bool {
	return p.retracted != nil && p.retracted[doc/64]&(1<<(doc%64)) != 0
}

func (p *priorIndex) close() {
	if p == nil {
		return
	}
	if p.ids != nil {
		p.ids.Close()
	}
	if p.sigs != nil {
		p.sigs.Close()
	}
	if p.keepers != nil {
		p.keepers.Close()
	}
}

func (p *priorIndex) bandPath(band int) string {
	return filepath.Join(p.dir, fmt.Sprintf("band-%03d.kd", band))
}

// withIndex merges a band's run files with the earlier index's band file,
// whose documents get indexDocBit: the order stays (Key, Doc).
type withIndex struct {
	run, idx     *RunMerger
	prior        *priorIndex
	a, b         KeyDoc
	haveA, haveB bool
}

func openBand(paths []string, prior *priorIndex, band int) (*withIndex, error) {
	w := &withIndex{prior: prior}
	var err error
	if w.run, err = MergeRuns(paths); err != nil {
		return nil, fmt.Errorf("band %d: %w", band, err)
	}
	if prior != nil {
		if w.idx, err = MergeRuns([]string{prior.bandPath(band)}); err != nil {
			w.Close()
			return nil, fmt.Errorf("band %d of index: %w", band, err)
		}
	}
	if err := w.pullA(); err != nil {
		w.Close()
		return nil, err
	}
	if err := w.pullB(); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

func (w *withIndex) pullA() (err error) {
	w.a, w.haveA, err = w.run.Next()
	return err
}

func (w *withIndex) pullB() (err error) {
	if w.idx == nil {
		return nil
	}
	for {
		w.b, w.haveB, err = w.idx.Next()
		if err != nil || !w.haveB || !w.prior.isRetracted(w.b.Doc) {
			break
		}
	}
	w.b.Doc |= indexDocBit
	return err
}

// Next yields the smaller of the two heads.
func (w *withIndex) Next() (KeyDoc, bool, error) {
	switch {
	case w.haveA && (!w.haveB || compareKeyDoc(w.a, w.b) <= 0):
		r := w.a
		return r, true, w.pullA()
	case w.haveB:
		r := w.b
		return r, true, w.pullB()
	}
	return KeyDoc{}, false, nil
}

func (w *withIndex) Close() error {
	if w.idx != nil {
		w.idx.Close()
	}
	if w.run != nil {
		return w.run.Close()
	}
	return nil
}

// writeIndex writes the index of this run into dst: this run's documents
// (ordinals 0..n-1) then the earlier index's (n..). removed lists this
// run's removed documents with their keepers, sorted by ordinal.
func (col *clusterCollector) writeIndex(dst string, runs [][]string, prior *priorIndex, removed []removal) error {
	tmp := dst + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	if err := copyStrings(filepath.Join(tmp, "ids"), filepath.Join(col.env.WorkDir, "ids"), prior); err != nil {
		return err
	}
	if col.core.k > 0 {
		if err := copyFixed(filepath.Join(tmp, "sigs.fx"), filepath.Join(col.env.WorkDir, "sigs.fx"), prior); err != nil {
			return err
		}
	}
	if err := col.writeKeepers(filepath.Join(tmp, keepersFile), prior, removed); err != nil {
		return err
	}
	for band := range col.core.bands {
		if err := col.writeIndexBand(filepath.Join(tmp, fmt.Sprintf("band-%03d.kd", band)), runs[band], prior, band); err != nil {
			return err
		}
	}
	info := indexInfo{Stage: col.core.name, Version: pipeline.Version, Documents: col.n, Bands: col.core.bands, SigValues: col.core.k}
	if prior != nil {
		info.Documents += prior.info.Documents
	}
	info.Params, _ = json.Marshal(col.core.params)
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, indexMeta), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	os.RemoveAll(dst)
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	return nil
}

// writeKeepers writes each document's keeper in the new numbering: an
// earlier index's documents move up by this run's count.
func (col *clusterCollector) writeKeepers(path string, prior *priorIndex, removed []removal) error {
	w, err := CreateFixed(path, 8)
	if err != nil {
		return err
	}
	var rec [8]byte
	put := func(k uint64) error {
		binary.LittleEndian.PutUint64(rec[:], k)
		return w.Append(rec[:])
	}
	n := col.n
	for ord := range n {
		k := ord
		if len(removed) > 0 && removed[0].ord == ord {
			k, removed = removed[0].keeper, removed[1:]
			if k&indexDocBit != 0 {
				k = n + k&^indexDocBit
			}
		}
		if err := put(k); err != nil {
			return err
		}
	}
	if prior != nil {
		for doc := range prior.info.Documents {
			k, err := prior.keeper(doc)
			if err == nil {
				err = put(n + k)
			}
			if err != nil {
				return err
			}
		}
	}
	return w.Close()
}

func (col *clusterCollector) writeIndexBand(path string, runs []string, prior *priorIndex, band int) error {
	src, err := openBand(runs, prior, band)
	if err != nil {
		return err
	}
	defer src.Close()
	count := col.keyed
	if prior != nil {
		r, err := openRun(prior.bandPath(band))
		if err != nil {
			return err
		}
		count += r.count
		r.close()
	}
	w, err := createRun(path, count, nil)
	if err != nil {
		return err
	}
	for {
		rec, ok, err := src.Next()
		if err != nil {
			w.abort()
			return err
		}
		if !ok {
			return w.commitWritten() // retracted documents' keys are left out
		}
		if rec.Doc&indexDocBit != 0 {
			rec.Doc = col.n + rec.Doc&^indexDocBit
		}
		if err := w.write(rec); err != nil {
			w.abort()
			return err
		}
	}
}

func copyStrings(dst, src string, prior *priorIndex) error {
	r, err := OpenStrings(src)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := CreateStrings(dst)
	if err != nil {
		return err
	}
	for _, from := range []*StringsReader{r, priorIDs(prior)} {
		if from == nil {
			continue
		}
		if err := from.Each(func(_ uint64, s string) error { return w.Append(s) }); err != nil {
			return err
		}
	}
	return w.Close()
}

func priorIDs(p *priorIndex) *StringsReader {
	if p == nil {
		return nil
	}
	return p.ids
}

func copyFixed(dst, src string, prior *priorIndex) error {
	r, err := OpenFixed(src)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := CreateFixed(dst, r.Size())
	if err != nil {
		return err
	}
	for _, from := range []*FixedReader{r, priorSigs(prior)} {
		if from == nil {
			continue
		}
		if err := from.Each(func(_ uint64, rec []byte) error { return w.Append(rec) }); err != nil {
			return err
		}
	}
	return w.Close()
}

func priorSigs(p *priorIndex) *FixedReader {
	if p == nil {
		return nil
	}
	return p.sigs
}
