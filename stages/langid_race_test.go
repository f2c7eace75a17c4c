//go:build race

package stages

// langidRace is true when the tests run under the race detector, where
// lingua runs some twenty times slower: the big accuracy test skips then and
// `make test` runs it again without -race.
const langidRace = true
