package dedup

import (
	"cmp"
	"slices"
)

// UnionFind joins document ordinals into duplicate clusters. It is a map, not
// an array indexed by ordinal, so its memory follows the documents that have
// a candidate duplicate (typically a few percent) and not the corpus size.
// Union by size with iterative path compression: a million-document cluster
// of boilerplate pages must not recurse a million deep.
type UnionFind struct {
	nodes map[uint64]ufNode
}

type ufNode struct {
	parent uint64
	size   uint64 // members of the component; kept up to date at roots only
}

func NewUnionFind() *UnionFind {
	return &UnionFind{nodes: make(map[uint64]ufNode)}
}

// Union joins the components of a and b. Union(a, a) is a no-op and stores
// nothing: a document alone is not a cluster.
func (u *UnionFind) Union(a, b uint64) {
	if a == b {
		return
	}
	ra, rb := u.findOrAdd(a), u.findOrAdd(b)
	if ra == rb {
		return
	}
	na, nb := u.nodes[ra], u.nodes[rb]
	// The tie-break on the ordinal only makes Find repeatable for a given
	// union order; Components is what is independent of the order.
	if na.size < nb.size || (na.size == nb.size && rb < ra) {
		ra, rb = rb, ra
		na, nb = nb, na
	}
	u.nodes[rb] = ufNode{parent: ra, size: nb.size}
	u.nodes[ra] = ufNode{parent: ra, size: na.size + nb.size}
}

func (u *UnionFind) findOrAdd(a uint64) uint64 {
	if _, ok := u.nodes[a]; !ok {
		u.nodes[a] = ufNode{parent: a, size: 1}
		return a
	}
	return u.Find(a)
}

// Find returns the representative of a's component; a document never passed
// to Union is its own representative and is not stored.
func (u *UnionFind) Find(a uint64) uint64 {
	root := a
	for {
		n, ok := u.nodes[root]
		if !ok || n.parent == root {
			break
		}
		root = n.parent
	}
	for a != root {
		n := u.nodes[a]
		next := n.parent
		if next == root {
			break
		}
		n.parent = root
		u.nodes[a] = n
		a = next
	}
	return root
}

// Same reports whether a and b are in one component.
func (u *UnionFind) Same(a, b uint64) bool {
	return a == b || u.Find(a) == u.Find(b)
}

// Size returns the number of members of a's component (1 for a document
// never passed to Union), e.g. for a dup_cluster_size column.
func (u *UnionFind) Size(a uint64) uint64 {
	n, ok := u.nodes[u.Find(a)]
	if !ok {
		return 1
	}
	return n.size
}

// Len returns the number of elements stored.
func (u *UnionFind) Len() int { return len(u.nodes) }

// Components returns every component with at least 2 members as an
// ascending member list, the components ordered by their smallest member.
// The result depends only on which pairs were joined, never on the order of
// the Union calls, so removal lists built from it are reproducible.
func (u *UnionFind) Components() [][]uint64 {
	type pair struct{ root, member uint64 }
	pairs := make([]pair, 0, len(u.nodes))
	for m := range u.nodes {
		pairs = append(pairs, pair{member: m})
	}
	// Find rewrites parents, so roots are resolved after the map iteration.
	for i := range pairs {
		pairs[i].root = u.Find(pairs[i].member)
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := cmp.Compare(a.root, b.root); c != 0 {
			return c
		}
		return cmp.Compare(a.member, b.member)
	})
	flat := make([]uint64, len(pairs))
	var comps [][]uint64
	for i := 0; i < len(pairs); {
		j := i + 1
		for j < len(pairs) && pairs[j].root == pairs[i].root {
			j++
		}
		for k := i; k < j; k++ {
			flat[k] = pairs[k].member
		}
		if j-i >= 2 {
			comps = append(comps, flat[i:j:j])
		}
		i = j
	}
	slices.SortFunc(comps, func(a, b []uint64) int { return cmp.Compare(a[0], b[0]) })
	return comps
}
