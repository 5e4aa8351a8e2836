package journal_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/system/faultfs"
)

// mountChildEnv makes this test binary a child that mounts a fault
// filesystem at the directory the variable names, says "mounted" and waits.
const mountChildEnv = "FAULTLINE_TEST_MOUNT_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(mountChildEnv); dir != "" {
		if _, err := faultfs.Mount(dir+".disk", dir); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(2)
		}
		os.Stdout.WriteString("mounted\n")
		select {}
	}
	os.Exit(m.Run())
}

func isMountPoint(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// TestReapDetachesADeadRunsMount: a run's fault filesystem is served by
// the run itself; when the run is killed its mount is left answering
// ENOTCONN. Reaping the run's journal entry detaches it: the directory is
// no longer a mount point and can be used (and removed) again.
func TestReapDetachesADeadRunsMount(t *testing.T) {
	if err := faultfs.Available(); err != nil {
		t.Skip(err)
	}
	dir := privateDir(t)
	mnt := filepath.Join(t.TempDir(), "store-0")
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), mountChildEnv+"="+mnt)
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	child.Stderr = os.Stderr
	require.NoError(t, child.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the child mounts")
	require.Equal(t, "mounted\n", line)
	require.True(t, isMountPoint(t, mnt))

	writeRaw(t, dir, journal.Entry{Run: "dead-run", Owner: child.Process.Pid, Kind: journal.KindMount, ID: "mount-store-0",
		Target: "store-0", Mount: mnt, Created: time.Now()})
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()
	_, err = os.Stat(filepath.Join(mnt, "x"))
	assert.ErrorIs(t, err, syscall.ENOTCONN, "the dead run's mount answers ENOTCONN")

	r, err := journal.Reap(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{mnt}, r.Detached)
	assert.Empty(t, r.Skipped)
	assert.False(t, isMountPoint(t, mnt), "detached")
	require.NoError(t, os.WriteFile(filepath.Join(mnt, "x"), []byte("usable"), 0o600))
	left, err := journal.Read(dir)
	require.NoError(t, err)
	assert.Empty(t, left)
}
