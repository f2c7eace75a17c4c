//go:build race

package cli

// raceEnabled is true under the race detector. Tests that only drive the
// winnow binary (built without it) gain nothing there but time: they skip,
// and the Makefile runs them again without -race.
const raceEnabled = true
