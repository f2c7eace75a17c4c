package trainer

import "syscall"

// workerProcAttr puts the worker in its own process group, so a terminal's
// Ctrl-C reaches it once, forwarded by winnow (which waits for its
// checkpoint), and kills it if winnow dies, so no orphan keeps training.
func workerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
