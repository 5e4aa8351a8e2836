package hostsetup

import "syscall"

// detached makes dockerd a session of its own, so that it outlives the
// command that started it.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
