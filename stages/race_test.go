//go:build race

package stages

// raceEnabled is true when the tests run under the race detector, where
// pure-Go code runs many times slower (lingua some twenty times; cppjieba,
// in C++, does not slow down): the biggest inputs shrink and the full
// accuracy tests skip, since `make test` runs them again without -race.
const raceEnabled = true
