package dedup

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"winnow/pipeline"
)

// MinHashOptions are the options of the minhash_dedup stage.
type MinHashOptions struct {
	Threshold float64 `yaml:"threshold" doc:"estimated Jaccard similarity of shingle sets at or above which two documents are near-duplicates"`
	Scheme    string  `yaml:"scheme" doc:"oph: one hash per shingle, one permutation with densified bins (fast) | perm: bands*rows (a*h+b) mod 2^61-1 permutations per shingle, as datatrove"`
	Unit      string  `yaml:"unit" doc:"shingle unit: auto (characters for Han/kana text, words otherwise) | char | word (the segment stage's tokens when it ran before, else Unicode words)"`
	N         int     `yaml:"n" doc:"shingle size in units; a document of U units uses min(n, max(min_n, (U+1)/8)) so short texts still match after a one-character edit"`
	MinN      int     `yaml:"min_n" doc:"smallest shingle of a short document: 1 compares texts under 15 units as character sets (catches edited one-line quotes, but also reorderings such as short prompts with swapped words); 2 or 3 for short instruction prompts"`
	Bands     int     `yaml:"bands" doc:"LSH bands; two documents are candidates when all rows of one band agree"`
	Rows      int     `yaml:"rows" doc:"signature values per band; the signature holds bands*rows values"`
	Seed      uint64  `yaml:"seed" doc:"seed of the hash functions; documents deduplicate only against signatures of the same seed"`
	Verify    bool    `yaml:"verify" doc:"link a candidate pair only when its signatures agree on at least threshold of their values (cuts LSH false positives)"`
	Keep      string  `yaml:"keep" doc:"which member of a cluster is kept: first (in input order) | longest | quality (highest quality_score; ties: first)"`
	Memory    int64   `yaml:"memory" hash:"-" doc:"bytes of band records held before a sorted run spills to .winnow/; 0 = a quarter of max_memory"`
	Index     string  `yaml:"index" doc:"an earlier run's index/minhash_dedup directory: documents matching one of its documents are removed with dup_of its id; this run's index covers both"`
}

func defaultMinHashOptions() *MinHashOptions {
	p := DefaultMinHashParams()
	return &MinHashOptions{Threshold: DefaultMinHashThreshold, Scheme: p.Scheme, Unit: p.Unit, N: p.N, MinN: 1,
		Bands: p.Bands, Rows: p.Rows, Seed: p.Seed, Verify: true, Keep: "first"}
}

const minhashName = "minhash_dedup"

// MinHashInfo registers minhash_dedup.
var MinHashInfo = pipeline.StageInfo{
	Name:     minhashName,
	Doc:      "near-duplicate removal: MinHash signatures of shingles, LSH bands, verified candidates, clusters; removed rows get drop_reason near_duplicate and dup_of",
	Defaults: func() any { return defaultMinHashOptions() },
	New: func(opts any, where string) (pipeline.Stage, error) {
		return newMinHashStage(opts.(*MinHashOptions), where)
	},
}

type minhashStage struct {
	*clusterCore // its Distributed methods are the stage's
	hasher       *MinHasher
}

func newMinHashStage(o *MinHashOptions, where string) (*minhashStage, error) {
	if o.Threshold <= 0 || o.Threshold > 1 {
		return nil, fmt.Errorf("%s: threshold: %v is out of range (0, 1]", where, o.Threshold)
	}
	if err := checkKeep(o.Keep, where); err != nil {
		return nil, err
	}
	if err := checkMemory(o.Memory, o.Bands, where); err != nil {
		return nil, err
	}
	h, err := NewMinHasher(MinHashParams{Scheme: o.Scheme, Unit: o.Unit, N: o.N, MinN: o.MinN, Bands: o.Bands, Rows: o.Rows, Seed: o.Seed})
	if err != nil {
		return nil, fmt.Errorf("%s: %s", where, yamlKeys.Replace(strings.TrimPrefix(err.Error(), "dedup: ")))
	}
	core := &clusterCore{name: minhashName, reason: "near_duplicate", bands: o.Bands, keep: o.Keep, memory: o.Memory,
		params: h.Params(), index: o.Index}
	if o.Verify {
		core.k, core.verify = h.K(), o.Threshold
	}
	return &minhashStage{clusterCore: core, hasher: h}, nil
}

// yamlKeys names MinHashParams' fields as the config does in errors.
var yamlKeys = strings.NewReplacer("MinHashParams.Scheme", "scheme", "MinHashParams.Unit", "unit",
	"MinHashParams.MinN", "min_n", "MinHashParams.N", "n", "MinHashParams.Bands*Rows", "bands*rows",
	"MinHashParams.Bands", "bands", "MinHashParams.Rows", "rows", "N (", "n (")

func checkKeep(keep, where string) error {
	if !slices.Contains(KeepPolicies, keep) {
		return fmt.Errorf("%s: keep: %q is not one of %s", where, keep, strings.Join(KeepPolicies, ", "))
	}
	return nil
}

func (s *minhashStage) Name() string { return s.clusterCore.name }

// Process signs every alive row; the signature lives only as long as the
// batch, and its bands go to the collector in input order.
func (s *minhashStage) Process(ctx context.Context, b *pipeline.Batch) error {
	n, k, bands := b.Len(), s.hasher.K(), s.clusterCore.bands
	kr := &keyedRows{has: make([]bool, n), keys: make([]uint64, n*bands), sigs: make([]uint32, n*k)}
	texts := b.Texts()
	var noShingles int64
	for i := 0; i < n; i++ {
		if !b.Alive(i) {
			continue
		}
		var toks []string
		if b.Tokens != nil {
			toks = b.Tokens[i]
		}
		sig := kr.sigs[i*k : (i+1)*k]
		if s.hasher.Sign(texts.Value(i), toks, sig) == 0 {
			noShingles++
			continue
		}
		kr.has[i] = true
		s.hasher.BandKeys(sig, kr.keys[i*bands:(i+1)*bands])
	}
	if s.clusterCore.k == 0 {
		kr.sigs = nil
	}
	b.AddCount("no_shingles", noShingles)
	b.SetSide(s, kr)
	return nil
}

func (s *minhashStage) NewCollector(env pipeline.GlobalEnv) (pipeline.Collector, error) {
	return s.clusterCore.newCollector(s, env)
}

func (s *minhashStage) ReopenDecider(env pipeline.GlobalEnv) (pipeline.Decider, error) {
	return s.clusterCore.reopenDecider(s, env)
}

func (s *minhashStage) ResumeCollector(env pipeline.GlobalEnv, state json.RawMessage) (pipeline.Collector, error) {
	return s.clusterCore.resumeCollector(s, env, state)
}

func (s *minhashStage) Apply(ctx context.Context, b *pipeline.Batch) error {
	rows, _ := b.Side(s).([]rowDecision)
	if rows == nil {
		return fmt.Errorf("batch %d has no decisions attached", b.Seq)
	}
	return s.clusterCore.apply(b, rows)
}
