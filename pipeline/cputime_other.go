//go:build !linux

package pipeline

// threadCPU is not available on this platform; stage CPU times read 0.
func threadCPU() int64 { return 0 }

// peakRSS is not available here; processUsage falls back to getrusage.
func peakRSS() (int64, bool) { return 0, false }
