package dedup

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

type ufEdge struct{ a, b uint64 }

// bfsComponents is the brute-force reference: components with at least 2
// members of the graph, each sorted, ordered by smallest member.
func bfsComponents(edges []ufEdge) [][]uint64 {
	adj := map[uint64][]uint64{}
	for _, e := range edges {
		if e.a != e.b {
			adj[e.a] = append(adj[e.a], e.b)
			adj[e.b] = append(adj[e.b], e.a)
		}
	}
	seen := map[uint64]bool{}
	var comps [][]uint64
	for start := range adj {
		if seen[start] {
			continue
		}
		seen[start] = true
		comp := []uint64{start}
		for q := 0; q < len(comp); q++ {
			for _, nb := range adj[comp[q]] {
				if !seen[nb] {
					seen[nb] = true
					comp = append(comp, nb)
				}
			}
		}
		slices.Sort(comp)
		comps = append(comps, comp)
	}
	slices.SortFunc(comps, func(a, b []uint64) int { return cmp.Compare(a[0], b[0]) })
	return comps
}

func TestUnionFindMatchesBFS(t *testing.T) {
	tests := []struct {
		name         string
		nodes, edges int
		spread       uint64 // ordinals are drawn from [0, spread): sparse like real duplicates
	}{
		{"sparse", 200, 60, 1 << 40},
		{"chains", 300, 250, 1 << 20},
		{"dense", 50, 400, 100},
		{"self loops", 20, 40, 4},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for graph := range 10 {
				ids := make([]uint64, tt.nodes)
				for i := range ids {
					ids[i] = rng.Uint64N(tt.spread)
				}
				edges := make([]ufEdge, tt.edges)
				for i := range edges {
					edges[i] = ufEdge{ids[rng.IntN(len(ids))], ids[rng.IntN(len(ids))]}
				}
				want := bfsComponents(edges)
				members := 0
				for _, c := range want {
					members += len(c)
				}
				for order := range 8 {
					rng.Shuffle(len(edges), func(i, j int) { edges[i], edges[j] = edges[j], edges[i] })
					u := NewUnionFind()
					for _, e := range edges {
						if rng.IntN(2) == 0 {
							e.a, e.b = e.b, e.a
						}
						u.Union(e.a, e.b)
					}
					got := u.Components()
					if !slices.EqualFunc(got, want, slices.Equal) {
						t.Fatalf("graph %d order %d: components\n%v\nwant\n%v", graph, order, got, want)
					}
					if u.Len() != members {
						t.Errorf("graph %d order %d: Len %d, want %d distinct unioned elements", graph, order, u.Len(), members)
					}
					checkSameAndSize(t, u, want)
				}
			}
		})
	}
}

func checkSameAndSize(t *testing.T, u *UnionFind, comps [][]uint64) {
	t.Helper()
	for i, c := range comps {
		for _, m := range c {
			if !u.Same(c[0], m) || u.Size(m) != uint64(len(c)) {
				t.Fatalf("member %d of component %v: Same %v, Size %d", m, c, u.Same(c[0], m), u.Size(m))
			}
		}
		if i > 0 && u.Same(comps[i-1][0], c[0]) {
			t.Fatalf("components %v and %v reported Same", comps[i-1], c)
		}
	}
}

func TestUnionFindUnseen(t *testing.T) {
	u := NewUnionFind()
	u.Union(1, 2)
	u.Union(7, 7)
	if got := u.Find(99); got != 99 {
		t.Errorf("Find(99) = %d", got)
	}
	if u.Same(99, 1) || !u.Same(99, 99) || u.Size(99) != 1 || u.Size(7) != 1 {
		t.Error("unseen element joined to something")
	}
	if u.Len() != 2 {
		t.Errorf("Len %d after Find of unseen and Union(7, 7), want 2", u.Len())
	}
	if comps := NewUnionFind().Components(); len(comps) != 0 {
		t.Errorf("empty union-find has components %v", comps)
	}
}

// TestUnionFindLongChain unions a chain in the order that builds the deepest
// trees union by size allows, then resolves it: no recursion, one component.
func TestUnionFindLongChain(t *testing.T) {
	const n = 1 << 17
	u := NewUnionFind()
	for step := uint64(1); step < n; step *= 2 {
		for i := uint64(0); i+step < n; i += 2 * step {
			u.Union(i+step, i)
		}
	}
	comps := u.Components()
	if len(comps) != 1 || len(comps[0]) != n || comps[0][0] != 0 || comps[0][n-1] != n-1 {
		t.Fatalf("got %d components", len(comps))
	}
}

func BenchmarkUnionFindUnion(b *testing.B) {
	const docs = 1 << 20
	pairs := make([]ufEdge, docs)
	for i := range pairs {
		pairs[i] = ufEdge{splitmix64(uint64(i)) % docs, splitmix64(uint64(i)+1<<32) % docs}
	}
	b.SetBytes(16) // one candidate pair of ordinals
	u := NewUnionFind()
	i := 0
	for b.Loop() {
		if i == len(pairs) {
			i = 0
			u = NewUnionFind()
		}
		u.Union(pairs[i].a, pairs[i].b)
		i++
	}
}
