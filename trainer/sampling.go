package trainer

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
)

// Sampling weighs documents for training: a document's weight is the
// product of its language's and its source's weight, quality_score raised to
// QualityPower, and (with DupUpsample) its dup_cluster_size. The weight
// becomes a number of copies in train.jsonl, floor(w) plus one more with
// probability frac(w), drawn from a hash of the id so it never changes
// between runs; at most MaxRepeat copies. The zero value gives every
// document one copy.
type Sampling struct {
	LangWeights   map[string]float64 `json:"lang_weights,omitempty"`   // by the lang column; "*" for the rest (default 1)
	SourceWeights map[string]float64 `json:"source_weights,omitempty"` // by the longest matching prefix of source; "*" for the rest
	QualityPower  float64            `json:"quality_power,omitempty"`  // 0: quality_score is ignored; documents without one count as 1
	DupUpsample   bool               `json:"dup_upsample,omitempty"`   // multiply by dup_cluster_size, the documents a kept one stands for
	MaxRepeat     int                `json:"max_repeat,omitempty"`     // cap on copies (0: 4)
}

// Copies returns how many times d goes into the training set.
func (s Sampling) Copies(d Doc) int {
	w := lookup(s.LangWeights, d.Lang, false) * lookup(s.SourceWeights, d.Source, true)
	if s.QualityPower != 0 && d.HasQuality {
		w *= math.Pow(math.Max(d.Quality, 0), s.QualityPower)
	}
	if s.DupUpsample && d.DupClusterSize > 1 {
		w *= float64(d.DupClusterSize)
	}
	maxRepeat := s.MaxRepeat
	if maxRepeat <= 0 {
		maxRepeat = 4
	}
	if w >= float64(maxRepeat) {
		return maxRepeat
	}
	n := int(w)
	if frac := w - float64(n); frac > 0 && unitHash("copies", d.ID) < frac {
		n++
	}
	return n
}

func lookup(weights map[string]float64, key string, prefix bool) float64 {
	if w, ok := weights[key]; ok {
		return w
	}
	if prefix {
		best := -1
		var bw float64
		for k, w := range weights {
			if k != "*" && strings.HasPrefix(key, k) && len(k) > best {
				best, bw = len(k), w
			}
		}
		if best >= 0 {
			return bw
		}
	}
	if w, ok := weights["*"]; ok {
		return w
	}
	return 1
}

// unitHash maps (salt, key) to [0, 1): FNV-1a, then MurmurHash3's
// finalizer, whose avalanche FNV lacks (ids like doc-1, doc-2 … otherwise
// land unevenly). Stable across runs, machines and Go versions, unlike map
// order or math/rand; the split of a run depends on it never changing.
func unitHash(salt, key string) float64 {
	h := fnv.New64a()
	h.Write([]byte(salt))
	h.Write([]byte{0})
	h.Write([]byte(key))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return float64(x>>11) / (1 << 53)
}

// ParseWeights reads "zh=1,en=0.5,*=0" into a map.
func ParseWeights(s string) (map[string]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		w, err := strconv.ParseFloat(v, 64)
		if !ok || k == "" || err != nil || w < 0 || math.IsInf(w, 0) {
			return nil, fmt.Errorf("weight %q: want key=number ≥ 0", part)
		}
		out[k] = w
	}
	return out, nil
}
