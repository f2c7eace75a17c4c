//go:build race

package dedup

// raceEnabled is true under the race detector, where hashing runs many
// times slower: the accuracy tests skip (they run again without -race) and
// the large-document test shrinks.
const raceEnabled = true
