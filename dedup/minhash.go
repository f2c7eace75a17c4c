// Package dedup finds exact and near-duplicate documents: hashing, MinHash signatures, LSH banding, external sorting of band keys, and union-find.
package dedup

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// MinHashParams configures shingling and signatures. Validate with NewMinHasher.
type MinHashParams struct {
	// Scheme is "oph" or "perm".
	//
	// "oph": one permutation hashing with optimal densification
	// (Shrivastava 2017). One xxhash64 per shingle, finalised with the seed,
	// picks a bin and a value; each bin keeps its minimum; an empty bin
	// borrows the value of the first non-empty bin in its own seeded probe
	// sequence. Cost per shingle does not grow with K.
	//
	// "perm": K = Bands*Rows universal permutations (a·h+b) mod (2^61−1)
	// of one xxhash64 per shingle (datatrove-style, but with a true modular
	// product), a and b drawn from a splitmix64 stream seeded by Seed. Cost
	// per shingle is K modular products.
	Scheme string
	// Unit is "auto", "char" or "word"; see the normalisation notes in
	// shingle.go.
	Unit string
	// N is the shingle size in units. A document of U units uses
	// nEff = clamp((U+1)/8, 1, N): one edit changes at most nEff of its
	// U−nEff+1 shingles, so J ≥ (U−2·nEff+1)/(U+1) ≈ 0.75 and a one-character
	// edit of a short quote still reads as a near-duplicate.
	N int
	// MinN is the smallest shingle a short document gets (0 means 1). With
	// 1, a text of under 15 units is compared as a set of characters, which
	// catches edited one-line quotes but also calls "20 英寸转厘米" and
	// "28 厘米转英寸" the same; 2 or 3 keeps short prompts apart.
	MinN int
	// Bands and Rows: LSH banding; the signature length is K = Bands*Rows.
	Bands, Rows int
	Seed        uint64
}

// DefaultMinHashThreshold is the signature similarity at which a candidate
// pair counts as a near-duplicate; DefaultMinHashParams is tuned for it.
const DefaultMinHashThreshold = 0.7

// DefaultMinHashParams returns the measured defaults: scheme "oph", unit
// "auto", 5-unit shingles, 40 bands × 8 rows (K = 320), seed 1; use them
// with DefaultMinHashThreshold.
//
// Measured (dedup/accuracy_test.go, minhash_bench_test.go; one core):
//   - Scheme: "oph" signs zh-laws at 60–67 MB/s and English licences at
//     48–52 MB/s; "perm" at K = 320 manages 2.9 and 5.2 MB/s (K modular
//     products per shingle), far below the 30 MB/s target, and is no more
//     accurate: with unit "auto" both reach recall 1.000 and precision
//     ≥ 0.994 on zh-laws, alpaca-zh, Debian copyright files and edited law
//     excerpts (TestMinHashAccuracy logs the table).
//   - 40×8: P(candidate) = 1−(1−s^8)^40 is 0.5 at s ≈ 0.60, 0.985 at 0.75,
//     0.26 % at 0.3 (few idle candidates). K = 320 gives the estimate a std
//     of 0.024–0.027 around 0.7, so verification keeps ~98 % of pairs at
//     J = 0.75 and ~3 % at 0.65: P(found | 0.75) ≈ 0.968, P(found | 0.65)
//     ≈ 0.024. 14×8 (datatrove) finds 0.68 at 0.75; 32×8 0.93; 36×7 0.958.
//   - N = 5: character 5-grams for Chinese (data-juicer), word 5-grams for
//     other scripts (datatrove); short documents shrink it (see N).
func DefaultMinHashParams() MinHashParams {
	return MinHashParams{Scheme: "oph", Unit: "auto", N: 5, Bands: 40, Rows: 8, Seed: 1}
}

// Limits checked by NewMinHasher; they bound the stack buffers of Sign and
// BandKeys.
const (
	mhMaxBands = 1024
	mhMaxRows  = 64
	mhMaxK     = 4096
)

// MinHasher signs documents. It is immutable after construction and safe
// for concurrent use by many goroutines.
type MinHasher struct {
	p        MinHashParams
	k        int
	oph      bool
	ophSeed  uint64   // XORed into every shingle hash before finalising
	densSeed uint64   // seeds the densification probe sequences
	perm     []mhPerm // "perm" only
	probes   []uint16 // "oph" only: probe t of bin i at i*mhProbes+t-1
}

// mhPerm is one permutation x ↦ (a·x + b) mod mhPrime.
type mhPerm struct{ a, b uint64 }

const mhPrime = 1<<61 - 1

// NewMinHasher validates p and precomputes what Sign needs.
func NewMinHasher(p MinHashParams) (*MinHasher, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	m := &MinHasher{p: p, k: p.Bands * p.Rows, oph: p.Scheme == "oph"}
	state := p.Seed
	m.ophSeed = mhSplitmix(&state)
	m.densSeed = mhSplitmix(&state)
	if m.oph {
		m.probes = make([]uint16, m.k*mhProbes)
		for i := range m.k {
			for t := range mhProbes {
				m.probes[i*mhProbes+t] = uint16(m.probe(uint64(i), uint64(t+1)))
			}
		}
	} else {
		m.perm = make([]mhPerm, m.k)
		for i := range m.perm {
			m.perm[i].a = 1 + mhSplitmix(&state)%(mhPrime-1)
			m.perm[i].b = mhSplitmix(&state) % mhPrime
		}
	}
	return m, nil
}

func (p MinHashParams) validate() error {
	switch {
	case p.Scheme != "oph" && p.Scheme != "perm":
		return fmt.Errorf("dedup: MinHashParams.Scheme %q: want \"oph\" or \"perm\"", p.Scheme)
	case p.Unit != "auto" && p.Unit != "char" && p.Unit != "word":
		return fmt.Errorf("dedup: MinHashParams.Unit %q: want \"auto\", \"char\" or \"word\"", p.Unit)
	case p.N < 1 || p.N > mhMaxN:
		return fmt.Errorf("dedup: MinHashParams.N = %d: want 1..%d", p.N, mhMaxN)
	case p.MinN < 0 || p.MinN > p.N:
		return fmt.Errorf("dedup: MinHashParams.MinN = %d: want 0..N (%d)", p.MinN, p.N)
	case p.Bands < 1 || p.Bands > mhMaxBands:
		return fmt.Errorf("dedup: MinHashParams.Bands = %d: want 1..%d", p.Bands, mhMaxBands)
	case p.Rows < 1 || p.Rows > mhMaxRows:
		return fmt.Errorf("dedup: MinHashParams.Rows = %d: want 1..%d", p.Rows, mhMaxRows)
	case p.Bands*p.Rows > mhMaxK:
		return fmt.Errorf("dedup: MinHashParams.Bands*Rows = %d×%d = %d: want at most %d",
			p.Bands, p.Rows, p.Bands*p.Rows, mhMaxK)
	}
	return nil
}

// K is the signature length, Bands*Rows.
func (m *MinHasher) K() int { return m.k }

// Params returns the parameters m was built with.
func (m *MinHasher) Params() MinHashParams { return m.p }

// Sign writes the document's signature into sig (len K) and returns its
// number of shingles, repeats included. 0 means the document has no units
// after normalisation: sig is then left as it was and the document has no
// signature (callers do not deduplicate it). tokens are the words of the
// segmentation stage, used by word units (may be nil).
//
// Memory is O(K + N) whatever the size of the text: shingles are hashed as
// they stream past and never collected.
func (m *MinHasher) Sign(text string, tokens []string, sig []uint32) int {
	if len(sig) != m.k {
		panic(fmt.Sprintf("dedup: Sign: len(sig) = %d, want K = %d", len(sig), m.k))
	}
	var s mhShingles
	if u, _ := s.start(m.p.Unit, m.p.N, m.p.MinN, text, tokens); u == 0 {
		return 0
	}
	if m.oph {
		return m.signOPH(&s, sig)
	}
	return m.signPerm(&s, sig)
}

func (m *MinHasher) signOPH(s *mhShingles, sig []uint32) int {
	var filled [mhMaxK / 64]uint64
	for i := range sig {
		sig[i] = math.MaxUint32
	}
	k := uint64(len(sig))
	count := 0
	for {
		h, ok := s.next()
		if !ok {
			break
		}
		count++
		x := mhFmix(h ^ m.ophSeed)
		bin, _ := bits.Mul64(x, k) // high bits of x pick the bin...
		v := uint32(x)             // ...the low 32 bits are the value
		if v <= sig[bin] {
			sig[bin] = v
			filled[bin>>6] |= 1 << (bin & 63)
		}
	}
	if count > 0 { // always, as U ≥ 1 implies a shingle; guards the probe loop
		m.densify(sig, &filled)
	}
	return count
}

// densify fills each empty bin i from the first non-empty bin of its probe
// sequence j_t = mix(i, t), t = 1, 2, …: the sequence depends only on i and
// the seed, so two documents borrow alike wherever their bins agree, which
// keeps the estimate unbiased (optimal densification). Values are copied
// from bins that were filled by shingles, never from densified ones.
func (m *MinHasher) densify(sig []uint32, filled *[mhMaxK / 64]uint64) {
	k := uint64(len(sig))
	for i := range k {
		if filled[i>>6]&(1<<(i&63)) != 0 {
			continue
		}
		j, ok := m.firstProbe(i, filled)
		for t := uint64(mhProbes + 1); !ok; t++ {
			j = m.probe(i, t)
			ok = filled[j>>6]&(1<<(j&63)) != 0
		}
		sig[i] = sig[j]
	}
}

// mhProbes is how many probes per bin NewMinHasher precomputes: a short
// document fills few bins, and recomputing the probe mix for each of its
// many empty bins was most of its signing time.
const mhProbes = 16

func (m *MinHasher) probe(i, t uint64) uint64 {
	j, _ := bits.Mul64(mhFmix(m.densSeed^(i<<32|t)), uint64(m.k))
	return j
}

func (m *MinHasher) firstProbe(i uint64, filled *[mhMaxK / 64]uint64) (uint64, bool) {
	for _, j := range m.probes[i*mhProbes : (i+1)*mhProbes] {
		if filled[j>>6]&(1<<(j&63)) != 0 {
			return uint64(j), true
		}
	}
	return 0, false
}

func (m *MinHasher) signPerm(s *mhShingles, sig []uint32) int {
	perm := m.perm
	sig = sig[:len(perm)]
	for i := range sig {
		sig[i] = math.MaxUint32
	}
	count := 0
	for {
		h, ok := s.next()
		if !ok {
			break
		}
		count++
		x := h&mhPrime + h>>61 // h mod p, up to one p too many: fine for a·x
		for i, p := range perm {
			if v := mhPermute(p, x); v < sig[i] {
				sig[i] = v
			}
		}
	}
	return count
}

// mhPermute returns uint32((a·x + b) mod 2^61−1) for x < 2^62.
func mhPermute(p mhPerm, x uint64) uint32 {
	hi, lo := bits.Mul64(p.a, x) // < 2^123
	lo, c := bits.Add64(lo, p.b, 0)
	hi += c
	// 2^61 ≡ 1 (mod p): fold the bits above 61 onto the low 61.
	s := lo&mhPrime + (hi<<3 | lo>>61)
	s = s&mhPrime + s>>61
	if s >= mhPrime {
		s -= mhPrime
	}
	return uint32(s)
}

// BandKeys writes one key per band into keys (len Bands): the xxhash64 of
// the band's index and its Rows values (little-endian uint32s). The index
// keeps keys of different bands apart, so they may share one index.
func (m *MinHasher) BandKeys(sig []uint32, keys []uint64) {
	if len(sig) != m.k || len(keys) != m.p.Bands {
		panic(fmt.Sprintf("dedup: BandKeys: len(sig) = %d, len(keys) = %d, want %d and %d",
			len(sig), len(keys), m.k, m.p.Bands))
	}
	var buf [4 + 4*mhMaxRows]byte
	r := m.p.Rows
	for b := range keys {
		binary.LittleEndian.PutUint32(buf[:], uint32(b))
		for i, v := range sig[b*r : (b+1)*r] {
			binary.LittleEndian.PutUint32(buf[4+4*i:], v)
		}
		keys[b] = xxhash.Sum64(buf[:4+4*r])
	}
}

// Similarity is the fraction of positions where a and b agree: the Jaccard
// estimate. Signatures of different lengths, or empty ones, give 0.
func Similarity(a, b []uint32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	b = b[:len(a)]
	eq := 0
	for i, v := range a {
		if v == b[i] {
			eq++
		}
	}
	return float64(eq) / float64(len(a))
}

// Shingles returns the sorted distinct shingle hashes of a document, the
// same ones Sign uses (for ground truth and tests; it allocates).
func (m *MinHasher) Shingles(text string, tokens []string) []uint64 {
	var s mhShingles
	if u, _ := s.start(m.p.Unit, m.p.N, m.p.MinN, text, tokens); u == 0 {
		return nil
	}
	var out []uint64
	for {
		h, ok := s.next()
		if !ok {
			break
		}
		out = append(out, h)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Jaccard is |a∩b| / |a∪b| of two sorted distinct hash sets; 0 when both
// are empty (documents without shingles are never duplicates).
func Jaccard(a, b []uint64) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 0
	}
	inter := mhIntersect(a, b)
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// mhIntersect counts the common elements of two sorted distinct sets.
func mhIntersect(a, b []uint64) int { return mhIntersectAtLeast(a, b, 0) }

// mhIntersectAtLeast counts the common elements of two sorted distinct
// sets, or returns -1 once fewer than need are still possible.
func mhIntersectAtLeast(a, b []uint64, need int) int {
	n, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		if n+min(len(a)-i, len(b)-j) < need {
			return -1
		}
		switch x, y := a[i], b[j]; {
		case x < y:
			i++
		case x > y:
			j++
		default:
			n++
			i++
			j++
		}
	}
	if n < need {
		return -1
	}
	return n
}

// mhSplitmix is splitmix64: it advances *state and returns the next value.
func mhSplitmix(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	z := *state
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// mhFmix is murmur3's 64-bit finaliser: every input bit flips about half
// of the output bits.
func mhFmix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
