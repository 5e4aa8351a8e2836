package local

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness/journal"
	"github.com/faultline/faultline/harness/platform"
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

func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	require.NoError(t, err)
	s := string(b)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ')' {
			return s[i+2 : i+3]
		}
	}
	return ""
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

// TestSignalGoesToTheExactProcess: SignalProcess reaches the instance's
// process only while it is the one named; once it has been killed and
// replaced, its old PID is refused.
func TestSignalGoesToTheExactProcess(t *testing.T) {
	p, _, pid := launchSleep(t)
	err := p.SignalProcess("sleep-0", pid+1, syscall.SIGSTOP)
	require.ErrorIs(t, err, platform.ErrNotCurrent)
	require.ErrorIs(t, p.SignalProcess("sleep-0", 0, syscall.SIGSTOP), platform.ErrNotCurrent)
	require.NoError(t, p.SignalProcess("sleep-0", pid, syscall.SIGSTOP))
	require.Eventually(t, func() bool { return procState(t, pid) == "T" }, 2*time.Second, 10*time.Millisecond)
	require.NoError(t, p.SignalProcess("sleep-0", pid, syscall.SIGCONT))

	require.NoError(t, p.Signal("sleep-0", syscall.SIGKILL))
	require.Eventually(t, func() bool { n, ok := p.PID("sleep-0"); return ok && n != pid }, 5*time.Second, 10*time.Millisecond)
	assert.ErrorIs(t, p.SignalProcess("sleep-0", pid, syscall.SIGKILL), platform.ErrNotCurrent)
	require.NoError(t, p.Stop(context.Background()))
	assert.Error(t, p.Signal("sleep-0", syscall.SIGKILL), "a stopped instance has no process to signal")
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
