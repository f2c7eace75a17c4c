//go:build unix && !linux

package trainer

import "syscall"

// workerProcAttr puts the worker in its own process group, so a terminal's
// Ctrl-C reaches it once, forwarded by winnow.
func workerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
