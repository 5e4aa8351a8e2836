package local

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

// newTestPlatform returns a platform whose "bank" is bin, with its run
// folder and journal in temporary directories.
func newTestPlatform(t *testing.T, bin string) (*Platform, string) {
	t.Helper()
	state := filepath.Join(t.TempDir(), "journal")
	j, err := journal.Open(state, "test-run")
	require.NoError(t, err)
	run := filepath.Join(t.TempDir(), "run")
	require.NoError(t, os.Mkdir(run, 0o700))
	p, err := New(Options{RunDir: run, Journal: j, RestartDelay: 50 * time.Millisecond})
	require.NoError(t, err)
	p.bin = bin
	require.NoError(t, p.makeRunDirs())
	return p, state
}

// launchSleep supervises `sleep 60` as instance sleep-0 and waits until it runs.
func launchSleep(t *testing.T) (*Platform, string, int) {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	sleep, err = filepath.EvalSymlinks(sleep)
	require.NoError(t, err)
	p, state := newTestPlatform(t, sleep)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { _ = p.Stop(context.Background()); cancel() })
	p.launch(ctx, &proc{Instance: platform.Instance{Name: "sleep-0", Service: "sleep"}, args: []string{"60"},
		readyURL: "http://127.0.0.1:1/"})
	var pid int
	require.Eventually(t, func() bool { pid, _ = p.PID("sleep-0"); return pid > 0 }, 5*time.Second, 10*time.Millisecond)
	return p, state, pid
}

// TestRunFolderIsPrivate: logs and store directories are 0700, logs 0600,
// and the process is journaled 0600 with its start time.
func TestRunFolderIsPrivate(t *testing.T) {
	p, state, pid := launchSleep(t)
	for _, d := range []string{"logs", "store"} {
		fi, err := os.Stat(filepath.Join(p.opts.RunDir, d))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), d)
	}
	fi, err := os.Stat(filepath.Join(p.opts.RunDir, "logs", "sleep-0.log"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	entries, err := journal.Read(state)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	id, err := journal.Identify(pid)
	require.NoError(t, err)
	assert.Equal(t, []journal.Proc{id}, entries[0].Procs)
	assert.Equal(t, p.bin, entries[0].Exe)
	fi, err = os.Stat(filepath.Join(state, "test-run--proc-sleep-0.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

// TestSignalGoesToTheExactProcess: Signal reaches the instance's process
// only while it is the incarnation named; once it has been killed and
// replaced, the old incarnation is refused and reads as gone.
func TestSignalGoesToTheExactProcess(t *testing.T) {
	p, _, pid := launchSleep(t)
	inc, ok := p.Incarnation("sleep-0")
	require.True(t, ok)
	require.Equal(t, pid, inc.PID)
	other := platform.Incarnation{ID: "someone else", PID: pid + 1}
	require.ErrorIs(t, p.Signal("sleep-0", other, syscall.SIGSTOP), platform.ErrNotCurrent)
	require.ErrorIs(t, p.Signal("sleep-0", platform.Incarnation{}, syscall.SIGSTOP), platform.ErrNotCurrent)
	require.NoError(t, p.Signal("sleep-0", inc, syscall.SIGSTOP))
	require.Eventually(t, func() bool { st, err := p.State("sleep-0", inc); return err == nil && st == platform.Stopped }, 2*time.Second, 10*time.Millisecond)
	require.NoError(t, p.Signal("sleep-0", inc, syscall.SIGCONT))
	require.Eventually(t, func() bool { st, err := p.State("sleep-0", inc); return err == nil && st == platform.Running }, 2*time.Second, 10*time.Millisecond)

	require.NoError(t, p.Signal("sleep-0", inc, syscall.SIGKILL))
	require.Eventually(t, func() bool { n, ok := p.Incarnation("sleep-0"); return ok && n != inc }, 5*time.Second, 10*time.Millisecond)
	st, err := p.State("sleep-0", inc)
	require.NoError(t, err)
	assert.Equal(t, platform.Gone, st)
	assert.ErrorIs(t, p.Signal("sleep-0", inc, syscall.SIGKILL), platform.ErrNotCurrent)
	cur, _ := p.Incarnation("sleep-0")
	require.NoError(t, p.Stop(context.Background()))
	assert.Error(t, p.Signal("sleep-0", cur, syscall.SIGKILL), "a stopped instance has no process to signal")
}

// TestFreezeJournalsTheExactProcess: Freeze journals the process with its
// start time and binary (for a crashed run's reap to resume) before it
// stops it, and Thaw resumes it and removes the entry.
func TestFreezeJournalsTheExactProcess(t *testing.T) {
	p, state, pid := launchSleep(t)
	inc, _ := p.Incarnation("sleep-0")
	require.NoError(t, p.Freeze(context.Background(), "pause-1", []platform.Target{{Instance: "sleep-0", Incarnation: inc}}))
	entries, err := journal.Read(state)
	require.NoError(t, err)
	var pause *journal.Entry
	for i := range entries {
		if entries[i].ID == "pause-1" {
			pause = &entries[i]
		}
	}
	require.NotNil(t, pause, "journaled")
	id, err := journal.Identify(pid)
	require.NoError(t, err)
	assert.Equal(t, []journal.Proc{id}, pause.Procs)
	assert.True(t, pause.Resume)
	assert.Equal(t, p.bin, pause.Exe)
	require.Eventually(t, func() bool { st, _ := p.State("sleep-0", inc); return st == platform.Stopped }, 2*time.Second, 10*time.Millisecond)

	require.NoError(t, p.Thaw(context.Background(), "pause-1"))
	require.Eventually(t, func() bool { st, _ := p.State("sleep-0", inc); return st == platform.Running }, 2*time.Second, 10*time.Millisecond)
	entries, err = journal.Read(state)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotEqual(t, "pause-1", e.ID, "entry removed")
	}
	require.NoError(t, p.Thaw(context.Background(), "pause-1"), "idempotent")
}

// TestSeedDataIsPrivate: seed.json is 0600 even when the seeder would write
// it world-readable.
func TestSeedDataIsPrivate(t *testing.T) {
	seeder := filepath.Join(t.TempDir(), "bank")
	script := "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = --out ] && { rm -f \"$2\"; umask 022; echo '{}' > \"$2\"; }; shift; done\n"
	require.NoError(t, os.WriteFile(seeder, []byte(script), 0o700))
	p, _ := newTestPlatform(t, seeder)
	_, err := p.Seed(context.Background(), 1, 1)
	require.NoError(t, err)
	fi, err := os.Stat(filepath.Join(p.opts.RunDir, "seed.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}
