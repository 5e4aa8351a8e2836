package faultfs_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/faultfs"
)

// mount mounts a fault filesystem in a temporary directory, or skips the
// test with the reason it cannot.
func mount(t testing.TB) *faultfs.Disk {
	t.Helper()
	if err := faultfs.Available(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	d, err := faultfs.Mount(filepath.Join(dir, "backing"), filepath.Join(dir, "mnt"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, d.Unmount()) })
	return d
}

func write(t *testing.T, path string, flags int, data string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|flags, 0o600)
	require.NoError(t, err)
	_, err = f.WriteString(data)
	require.NoError(t, err)
	return f
}

func TestPowerLossKeepsOnlyWhatWasSynced(t *testing.T) {
	d := mount(t)
	synced := filepath.Join(d.Mountpoint, "synced")
	f := write(t, synced, 0, "on disk;")
	require.NoError(t, f.Sync())
	_, err := f.WriteString(" held")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	never := write(t, filepath.Join(d.Mountpoint, "never-synced"), 0, "held only")
	require.NoError(t, never.Close())
	osync := write(t, filepath.Join(d.Mountpoint, "osync"), os.O_SYNC, "written O_SYNC")
	require.NoError(t, osync.Close())

	got, err := os.ReadFile(synced)
	require.NoError(t, err)
	assert.Equal(t, "on disk; held", string(got), "reads see held writes")
	backing, err := os.ReadFile(filepath.Join(d.Backing, "synced"))
	require.NoError(t, err)
	assert.Equal(t, "on disk;", string(backing), "the backing file has only what was synced")
	s := d.Stats()
	assert.Equal(t, 2, s.Files, "two files hold writes")
	assert.GreaterOrEqual(t, s.Syncs, int64(1))

	lost := d.LoseUnsynced()
	assert.Equal(t, 2, lost.Files)
	assert.Positive(t, lost.Bytes)
	got, err = os.ReadFile(synced)
	require.NoError(t, err)
	assert.Equal(t, "on disk;", string(got), "after the power loss")
	got, err = os.ReadFile(filepath.Join(d.Mountpoint, "never-synced"))
	require.NoError(t, err)
	assert.Empty(t, got, "a created file survives, empty: its creation was durable, its data was not")
	got, err = os.ReadFile(filepath.Join(d.Mountpoint, "osync"))
	require.NoError(t, err)
	assert.Equal(t, "written O_SYNC", string(got))
	assert.Zero(t, d.Stats().Held)
}

func TestWriteThenRenameSurvivesAPowerLoss(t *testing.T) {
	d := mount(t)
	tmp := filepath.Join(d.Mountpoint, "meta.tmp")
	require.NoError(t, write(t, tmp, 0, "new meta").Close())
	require.NoError(t, os.Rename(tmp, filepath.Join(d.Mountpoint, "meta")))
	d.LoseUnsynced()
	got, err := os.ReadFile(filepath.Join(d.Mountpoint, "meta"))
	require.NoError(t, err)
	assert.Equal(t, "new meta", string(got))
}

func TestAnUnsyncedTruncateIsUndoneByAPowerLoss(t *testing.T) {
	d := mount(t)
	p := filepath.Join(d.Mountpoint, "blk")
	f := write(t, p, 0, "0123456789")
	require.NoError(t, f.Sync())
	require.NoError(t, f.Truncate(3))
	st, err := f.Stat()
	require.NoError(t, err)
	assert.EqualValues(t, 3, st.Size())
	require.NoError(t, f.Close())
	d.LoseUnsynced()
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "0123456789", string(got))
}

func TestFaultsFailAndDelayWritesAndSyncs(t *testing.T) {
	d := mount(t)
	f := write(t, filepath.Join(d.Mountpoint, "f"), 0, "before")

	d.Set(faultfs.Faults{WriteErr: syscall.ENOSPC})
	_, err := f.WriteString("full")
	assert.True(t, errors.Is(err, syscall.ENOSPC), "write on a full disk: %v", err)

	d.Set(faultfs.Faults{SyncErr: syscall.EIO})
	assert.True(t, errors.Is(f.Sync(), syscall.EIO), "fsync fails")
	d.Set(faultfs.Faults{})
	d.LoseUnsynced()
	got, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	assert.Empty(t, got, "a failed fsync kept nothing")

	d.Set(faultfs.Faults{WriteLatency: 200 * time.Millisecond, SyncLatency: 300 * time.Millisecond})
	t0 := time.Now()
	_, err = f.WriteString("slow")
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	assert.GreaterOrEqual(t, time.Since(t0), 500*time.Millisecond, "write and fsync delayed")
	require.NoError(t, f.Close())
	s := d.Stats()
	assert.EqualValues(t, 2, s.Failed)
	assert.EqualValues(t, 2, s.Delayed)
}

// A process started after the mount must not hold the filesystem's
// connection: if it did, the connection would outlive this process, and
// that child, exiting, would wait forever for a flush no one serves.
func TestProcessesStartedAfterTheMountDoNotHoldIt(t *testing.T) {
	mount(t)
	out, err := exec.Command("sh", "-c", "ls -l /proc/$$/fd").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "0 -> /dev/null", "the child lists its descriptors")
	assert.NotContains(t, string(out), "/dev/fuse", "the child inherited the connection")
}
