package journal_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/journal"
)

// TestReapResumesAndKillsWhatADeadRunLeft: a run died (its owner PID is
// gone) leaving a paused process behind; reaping resumes and kills it and
// empties the journal. A live run's entries are left alone.
func TestReapResumesAndKillsWhatADeadRunLeft(t *testing.T) {
	dir := privateDir(t)
	sleeper := startSleep(t)
	require.NoError(t, syscall.Kill(sleeper.pid(), syscall.SIGSTOP))

	p, exe := sleeper.proc(t)
	dead := journal.Entry{Run: "dead-run", Owner: deadPID(t), Kind: "pause", ID: "f1", PIDs: []int{p.PID},
		Procs: []journal.Proc{p}, Exe: exe, Resume: true, Created: time.Now()}
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
	assert.Contains(t, r.Resumed, sleeper.pid())
	assert.Contains(t, r.Killed, sleeper.pid())
	assert.Empty(t, r.Skipped)
	sleeper.waitExit(t)
	left, err := journal.Read(dir)
	require.NoError(t, err)
	require.Len(t, left, 1, "only the live run's entry is left")
	assert.Equal(t, "live-run", left[0].Run)
}

// TestReapSkipsAReusedPID: the journaled process exited and its PID went to
// another process (here: a start time that does not match). Reaping must
// leave that process alone, say so, and drop the stale entry.
func TestReapSkipsAReusedPID(t *testing.T) {
	dir := privateDir(t)
	other := startSleep(t)
	p, exe := other.proc(t)
	p.Start-- // the journaled process started one tick earlier: not this one
	writeRaw(t, dir, journal.Entry{Run: "dead", Owner: deadPID(t), Kind: journal.KindProcess, ID: "p",
		PIDs: []int{p.PID}, Procs: []journal.Proc{p}, Exe: exe, Created: time.Now()})

	r, err := journal.Reap(dir)
	require.NoError(t, err)
	assert.Empty(t, r.Killed)
	require.Len(t, r.Skipped, 1)
	assert.Equal(t, other.pid(), r.Skipped[0].PID)
	assert.Contains(t, r.Skipped[0].Reason, "reused")
	time.Sleep(100 * time.Millisecond)
	assert.True(t, other.running(), "a reused PID is not ours to kill")
	left, err := journal.Read(dir)
	require.NoError(t, err)
	assert.Empty(t, left, "the stale entry is removed")
}

// TestReapRefusesPIDs: entries that name a PID the reaper must never
// signal, or that lack what is needed to check it, are skipped with a
// reason. The entries are pause entries, so that a broken check would only
// send SIGCONT.
func TestReapRefusesPIDs(t *testing.T) {
	self, err := journal.Identify(os.Getpid())
	require.NoError(t, err)
	parent, err := journal.Identify(os.Getppid())
	require.NoError(t, err)
	selfExe, err := os.Executable()
	require.NoError(t, err)
	sleeper := startSleep(t)
	sp, sexe := sleeper.proc(t)
	for _, tc := range []struct {
		name   string
		e      journal.Entry
		reason string
	}{
		{"our own pid", journal.Entry{PIDs: []int{self.PID}, Procs: []journal.Proc{self}, Exe: selfExe}, "this process"},
		{"our parent", journal.Entry{PIDs: []int{parent.PID}, Procs: []journal.Proc{parent}}, "parent"},
		{"init", journal.Entry{PIDs: []int{1}, Procs: []journal.Proc{{PID: 1, Boot: self.Boot}}}, "never signalled"},
		{"no identity", journal.Entry{PIDs: []int{sp.PID}, Exe: sexe}, "no start time"},
		{"no binary", journal.Entry{PIDs: []int{sp.PID}, Procs: []journal.Proc{sp}}, "no binary"},
		{"another binary", journal.Entry{PIDs: []int{sp.PID}, Procs: []journal.Proc{sp}, Exe: "/not/the/bank"}, "runs "},
		{"another boot", journal.Entry{PIDs: []int{sp.PID}, Procs: []journal.Proc{{PID: sp.PID, Start: sp.Start, Boot: "other"}}, Exe: sexe}, "boot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := privateDir(t)
			e := tc.e
			e.Run, e.ID, e.Owner, e.Kind, e.Resume, e.Created = "dead", "pause-1", deadPID(t), "pause", true, time.Now()
			writeRaw(t, dir, e)
			r, err := journal.Reap(dir)
			require.NoError(t, err)
			assert.Empty(t, r.Resumed)
			assert.Empty(t, r.Killed)
			require.Len(t, r.Skipped, 1)
			assert.Contains(t, r.Skipped[0].Reason, tc.reason)
		})
	}
	assert.True(t, sleeper.running())
}

// TestJournalDirMustBePrivate: Open and Reap refuse a directory that others
// can write to, that is not ours, or that is a symlink, naming it and the
// fix; nothing in it is read.
func TestJournalDirMustBePrivate(t *testing.T) {
	open := filepath.Join(t.TempDir(), "open")
	require.NoError(t, os.Mkdir(open, 0o700))
	require.NoError(t, os.Chmod(open, 0o777))
	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Symlink(privateDir(t), link))
	notOurs := "/"
	if os.Geteuid() == 0 {
		notOurs = filepath.Join(t.TempDir(), "nobody")
		require.NoError(t, os.Mkdir(notOurs, 0o700))
		require.NoError(t, os.Chown(notOurs, 65534, 65534))
	}
	for _, tc := range []struct{ name, dir, says string }{
		{"world writable", open, "chmod 700 " + open},
		{"symlink", link, "is a symlink"},
		{"not ours", notOurs, "not owned by you"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := journal.Open(tc.dir, "run")
			require.ErrorIs(t, err, journal.ErrUnsafeDir)
			assert.Contains(t, err.Error(), tc.dir)
			assert.Contains(t, err.Error(), tc.says)
			_, err = journal.Reap(tc.dir)
			assert.ErrorIs(t, err, journal.ErrUnsafeDir)
			_, err = journal.Read(tc.dir)
			assert.ErrorIs(t, err, journal.ErrUnsafeDir)
		})
	}
}

// TestJournalFilesArePrivate: Open creates the directory 0700 and entries
// are written 0600; entry files that others could have written are ignored.
func TestJournalFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "journal")
	j, err := journal.Open(dir, "run")
	require.NoError(t, err)
	require.NoError(t, j.Write(journal.Entry{Kind: "link", ID: "f1"}))
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	fi, err = os.Stat(filepath.Join(dir, "run--f1.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	require.NoError(t, os.Chmod(filepath.Join(dir, "run--f1.json"), 0o666))
	require.NoError(t, os.Symlink("/etc/hostname", filepath.Join(dir, "run--f2.json")))
	left, err := journal.Read(dir)
	assert.Empty(t, left)
	assert.ErrorContains(t, err, "writable by group or others")
	assert.ErrorContains(t, err, "not a regular file")
}

// TestReapLeavesALiveRunAlone: entries whose owner still runs (checked by
// identity, not only PID) are not touched; an owner PID taken by another
// process counts as dead.
func TestReapLeavesALiveRunAlone(t *testing.T) {
	dir := privateDir(t)
	owner := startSleep(t)
	victim := startSleep(t)
	op, _ := owner.proc(t)
	vp, vexe := victim.proc(t)
	e := journal.Entry{Run: "live", Owner: op.PID, OwnerID: &op, Kind: journal.KindProcess, ID: "p",
		PIDs: []int{vp.PID}, Procs: []journal.Proc{vp}, Exe: vexe, Created: time.Now()}
	writeRaw(t, dir, e)
	r, err := journal.Reap(dir)
	require.NoError(t, err)
	assert.Zero(t, r.Entries)
	assert.True(t, victim.running())

	op.Start-- // the journaled owner was another process: its run is dead
	e.OwnerID = &op
	writeRaw(t, dir, e)
	r, err = journal.Reap(dir)
	require.NoError(t, err)
	assert.Equal(t, []int{vp.PID}, r.Killed)
	victim.waitExit(t)
}

func TestProcRunning(t *testing.T) {
	c := startSleep(t)
	p, _ := c.proc(t)
	assert.True(t, p.Running())
	q := p
	q.Start++
	assert.False(t, q.Running())
	_ = c.cmd.Process.Kill()
	c.waitExit(t)
	assert.False(t, p.Running())
}
