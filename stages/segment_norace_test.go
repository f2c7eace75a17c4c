//go:build !race

package stages

// segRace is true under the race detector; see segment_race_test.go.
const segRace = false
