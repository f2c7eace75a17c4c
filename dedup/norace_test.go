//go:build !race

package dedup

// raceEnabled: see race_test.go.
const raceEnabled = false
