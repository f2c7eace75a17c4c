//go:build !race

package stages

// raceEnabled: see race_test.go.
const raceEnabled = false
