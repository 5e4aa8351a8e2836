package journal_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
		if os.Getenv(holderEnv) != "" {
			holdConnection()
		}
		os.Stdout.WriteString("mounted\n")
		select {}
	}
	os.Exit(m.Run())
}

// holderEnv makes the mounting child also start a process that holds its
// filesystem's connection open (as a process started while /dev/fuse was
// not close-on-exec did), printing "holder PID" first.
const holderEnv = "FAULTLINE_TEST_MOUNT_HOLDER"

func holdConnection() {
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, e := range fds {
		if target, _ := os.Readlink("/proc/self/fd/" + e.Name()); target != "/dev/fuse" {
			continue
		}
		fd, _ := strconv.Atoi(e.Name())
		holder := exec.Command("sleep", "600")
		holder.ExtraFiles = []*os.File{os.NewFile(uintptr(fd), "/dev/fuse")}
		if err := holder.Start(); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(2)
		}
		fmt.Printf("holder %d\n", holder.Process.Pid)
		return
	}
	os.Stderr.WriteString("no /dev/fuse descriptor\n")
	os.Exit(2)
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

// TestReapFreesWhatADeadRunsMountHolds: a process that still holds a dead
// run's filesystem connection keeps it alive with no one serving it, so
// that everything touching the mount waits forever. Reaping aborts the
// connection: the waiting process gets an error, and the mount is
// detached.
func TestReapFreesWhatADeadRunsMountHolds(t *testing.T) {
	if err := faultfs.Available(); err != nil {
		t.Skip(err)
	}
	dir := privateDir(t)
	mnt := filepath.Join(t.TempDir(), "store-0")
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), mountChildEnv+"="+mnt, holderEnv+"=1")
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	child.Stderr = os.Stderr
	require.NoError(t, child.Start())
	lines := bufio.NewReader(out)
	line, err := lines.ReadString('\n')
	require.NoError(t, err, "the child starts a holder")
	var holder int
	_, err = fmt.Sscanf(line, "holder %d", &holder)
	require.NoError(t, err, "%q", line)
	t.Cleanup(func() { _ = syscall.Kill(holder, syscall.SIGKILL) })
	line, err = lines.ReadString('\n')
	require.NoError(t, err, "the child mounts")
	require.Equal(t, "mounted\n", line)

	writeRaw(t, dir, journal.Entry{Run: "dead-run", Owner: child.Process.Pid, Kind: journal.KindMount, ID: "mount-store-0",
		Target: "store-0", Mount: mnt, Created: time.Now()})
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()

	// The server is dead and the holder keeps the connection: a look at
	// the mount waits.
	looked := make(chan error, 1)
	go func() {
		_, err := os.Stat(filepath.Join(mnt, "x"))
		looked <- err
	}()
	select {
	case err := <-looked:
		t.Fatalf("the mount answered (%v) while its connection was held with no server", err)
	case <-time.After(500 * time.Millisecond):
	}

	r, err := journal.Reap(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{mnt}, r.Detached)
	assert.Empty(t, r.Skipped)
	select {
	case err := <-looked:
		assert.Error(t, err, "the waiting look fails once the connection is aborted")
	case <-time.After(10 * time.Second):
		t.Fatal("the look at the mount still waits after the reap")
	}
	assert.False(t, isMountPoint(t, mnt), "detached")
}
