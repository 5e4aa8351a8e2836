package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// CgroupRoot is where the kernel's control group hierarchies are mounted,
// and CgroupPrefix begins the name of every group a run makes.
const (
	CgroupRoot   = "/sys/fs/cgroup/"
	CgroupPrefix = "faultline-"
)

// IsOurCgroup reports whether dir may name a group a run made: below
// CgroupRoot, clean, and named with CgroupPrefix.
func IsOurCgroup(dir string) bool {
	return filepath.Clean(dir) == dir && strings.HasPrefix(dir, CgroupRoot) && strings.HasPrefix(filepath.Base(dir), CgroupPrefix)
}

// RemoveCgroup removes the control group directory dir (cgroup v1 or v2):
// it moves every process still in it to the group above, the one the
// processes came from, then removes it. A group already gone is not an
// error. A process that exits meanwhile is no concern: the removal is
// retried for a second while the kernel lets go of exiting processes.
func RemoveCgroup(dir string) error {
	if !IsOurCgroup(dir) {
		return fmt.Errorf("remove control group %s: not one of ours (below %s, named %s...)", dir, CgroupRoot, CgroupPrefix)
	}
	parent := filepath.Join(filepath.Dir(dir), "cgroup.procs")
	var err error
	for range 20 {
		procs, rerr := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if errors.Is(rerr, os.ErrNotExist) {
			return nil
		}
		for _, pid := range bytes.Fields(procs) {
			// One PID a write; one that has exited meanwhile fails (ESRCH).
			_ = os.WriteFile(parent, pid, 0)
		}
		err = syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("remove control group %s: %w", dir, err)
}
