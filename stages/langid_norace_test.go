//go:build !race

package stages

// langidRace: see langid_race_test.go.
const langidRace = false
