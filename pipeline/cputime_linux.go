package pipeline

import "golang.org/x/sys/unix"

// threadCPU returns the CPU time consumed so far by the calling OS thread.
// Workers lock their goroutine to a thread so that the difference around a
// stage call is that stage's CPU time.
func threadCPU() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
