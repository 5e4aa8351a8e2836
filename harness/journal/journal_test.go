package journal_test

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness/journal"
)

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

// TestReapResumesAndKillsWhatADeadRunLeft: a run died (its owner PID is
// gone) leaving a paused process behind; reaping resumes and kills it and
// empties the journal. A live run's entries are left alone.
func TestReapResumesAndKillsWhatADeadRunLeft(t *testing.T) {
	dir := t.TempDir()
	sleeper := exec.Command("sleep", "60")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, sleeper.Start())
	t.Cleanup(func() { _ = sleeper.Process.Kill() })
	exited := make(chan struct{})
	go func() { _ = sleeper.Wait(); close(exited) }()
	require.NoError(t, syscall.Kill(sleeper.Process.Pid, syscall.SIGSTOP))

	exe, err := os.Readlink("/proc/" + itoa(sleeper.Process.Pid) + "/exe")
	require.NoError(t, err)
	dead := journal.Entry{Run: "dead-run", Owner: deadPID(t), Kind: "pause", ID: "f1", PIDs: []int{sleeper.Process.Pid}, Exe: exe, Resume: true, Created: time.Now()}
	writeRaw(t, dir, dead)
	proc := dead
	proc.Kind, proc.ID, proc.Resume = journal.KindProcess, "proc-x", false
	writeRaw(t, dir, proc)
	live, err := journal.Open(dir, "live-run")
	require.NoError(t, err)
	require.NoError(t, live.Write(journal.Entry{Kind: "link", ID: "f2"}))

	r, err := journal.Reap(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"dead-run"}, r.Runs)
	assert.Contains(t, r.Resumed, sleeper.Process.Pid)
	assert.Contains(t, r.Killed, sleeper.Process.Pid)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the dead run's process is still running")
	}
	left, err := journal.Read(dir)
	require.NoError(t, err)
	require.Len(t, left, 1, "only the live run's entry is left")
	assert.Equal(t, "live-run", left[0].Run)
}

func TestReapChecksTheBinaryBeforeKilling(t *testing.T) {
	dir := t.TempDir()
	other := exec.Command("sleep", "60")
	require.NoError(t, other.Start())
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	writeRaw(t, dir, journal.Entry{Run: "dead", Owner: deadPID(t), Kind: journal.KindProcess, ID: "p", PIDs: []int{other.Process.Pid}, Exe: "/not/the/bank", Created: time.Now()})
	r, err := journal.Reap(dir)
	require.NoError(t, err)
	assert.Empty(t, r.Killed, "a PID now running another binary is not ours to kill")
	assert.True(t, journal.Alive(other.Process.Pid, ""))
}
