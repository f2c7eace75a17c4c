//go:build race

package stages

// segRace is true under the race detector, where pure-Go loops run several
// times slower (cppjieba, in C++, does not): the biggest inputs shrink then.
const segRace = true
