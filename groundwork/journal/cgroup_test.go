package journal_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/journal"
)

// memoryGroup returns the directory of this process's cgroup v1 memory
// group, or skips the test.
func memoryGroup(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == "memory" {
			dir := filepath.Join(journal.CgroupRoot, "memory", parts[2])
			if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err == nil {
				return dir
			}
		}
	}
	t.Skip("no writable cgroup v1 memory controller")
	return ""
}

// TestReapRemovesADeadRunsCgroup: a dead run's control group, with a
// process still in it, is removed by the reap; the process is moved back
// to the group it came from, and left running (the group was a limit,
// not a process to kill).
func TestReapRemovesADeadRunsCgroup(t *testing.T) {
	parent := memoryGroup(t)
	dir := privateDir(t)
	group := filepath.Join(parent, journal.CgroupPrefix+"dead-run-limit-1-worker-0")
	require.NoError(t, os.Mkdir(group, 0o755))
	t.Cleanup(func() { _ = journal.RemoveCgroup(group) })
	sleep := exec.Command("sleep", "30")
	require.NoError(t, sleep.Start())
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	pid := strconv.Itoa(sleep.Process.Pid)
	require.NoError(t, os.WriteFile(filepath.Join(group, "cgroup.procs"), []byte(pid), 0))

	writeRaw(t, dir, journal.Entry{Run: "dead-run", Owner: deadPID(t), Kind: "limit", ID: "limit-1",
		Target: "worker-0", Cgroups: []string{group}, Created: time.Now()})
	r, err := journal.Reap(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{group}, r.Released)
	assert.Empty(t, r.Skipped)
	_, err = os.Stat(group)
	assert.ErrorIs(t, err, os.ErrNotExist, "the group is removed")
	procs, err := os.ReadFile(filepath.Join(parent, "cgroup.procs"))
	require.NoError(t, err)
	assert.Contains(t, strings.Fields(string(procs)), pid, "the process is back in its group")
	assert.True(t, journal.Alive(sleep.Process.Pid, ""), "and still runs")
}

// TestReapRemovesOnlyOurCgroups: a journal naming a group that is not one
// a run makes (another name, outside the hierarchies, not clean) has it
// left alone.
func TestReapRemovesOnlyOurCgroups(t *testing.T) {
	for _, g := range []string{
		"/sys/fs/cgroup/memory/system.slice",
		"/tmp/faultline-x",
		"/sys/fs/cgroup/memory/../../../tmp/faultline-x",
	} {
		assert.False(t, journal.IsOurCgroup(g), g)
		assert.ErrorContains(t, journal.RemoveCgroup(g), "not one of ours", g)
	}
	assert.True(t, journal.IsOurCgroup("/sys/fs/cgroup/memory/faultline-run-limit-1-x-0"))
}
