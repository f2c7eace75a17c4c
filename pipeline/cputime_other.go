//go:build !linux

package pipeline

// threadCPU is not available on this platform; stage CPU times read 0.
func threadCPU() int64 { return 0 }
