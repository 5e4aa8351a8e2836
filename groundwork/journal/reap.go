package journal

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
)

// Reaped says what Reap did.
type Reaped struct {
	Runs    []string
	Killed  []int
	Resumed []int
	// Detached lists the mount points detached: a dead run's fault
	// filesystems, whose server died with it.
	Detached []string
	// Released lists the control groups removed, their processes moved
	// back to the groups they came from.
	Released []string
	// Unchained lists the iptables chains removed, with the jumps to them:
	// a dead run's marks and partitions.
	Unchained []string
	// Skipped lists the journaled PIDs that were not signalled because they
	// failed a check (a reused PID, our own, no identity recorded, ...).
	Skipped []Skip
	Entries int
}

// Skip is a journaled PID that Reap refused to signal, and why.
type Skip struct {
	Run    string
	ID     string
	PID    int
	Reason string
}

func (s Skip) String() string {
	if s.PID == 0 {
		return fmt.Sprintf("%s/%s: %s", s.Run, s.ID, s.Reason)
	}
	return fmt.Sprintf("pid %d of %s/%s: %s", s.PID, s.Run, s.ID, s.Reason)
}

// Reap undoes what dead runs left in dir: it resumes paused processes, kills
// every process they started, detaches the mounts they made, removes the
// control groups they made and removes their entries. Entries of runs
// whose harness is still alive are left alone. It is the local platform's
// reaper; platform.Reap hands each platform the entries it wrote.
func Reap(dir string) (Reaped, error) {
	entries, err := Orphans(dir)
	r := ReapEntries(dir, entries)
	return r, err
}

// Orphans returns the entries in dir of runs whose harness is no longer
// alive: what they journaled and did not undo.
func Orphans(dir string) ([]Entry, error) {
	if err := CheckDir(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("reap: %w", err)
	}
	entries, err := Read(dir)
	var out []Entry
	for _, e := range entries {
		if !ownerAlive(e) { // a live run's, or our own, are left alone
			out = append(out, e)
		}
	}
	return out, err
}

// ReapEntries undoes entries of dead runs in dir that name host processes
// (see Orphans) and removes them.
//
// Nothing is signalled unless all of these hold: the PID is above 1 and
// neither ours nor our parent's; the entry records the process's identity
// (start time and boot) and binary; and, through a pidfd opened on the
// PID, the process is found to be that identity, running that binary as
// the current user. A PID failing a check is listed in Skipped with the
// reason, and its entry is removed all the same: what it named is gone. A
// group kill goes to a process group only if the journaled process leads
// it.
func ReapEntries(dir string, entries []Entry) Reaped {
	var r Reaped
	runs := map[string]bool{}
	// Mounts first: a process blocked on a dead run's filesystem dies only
	// once its connection is aborted.
	entries = slices.Clone(entries)
	slices.SortStableFunc(entries, func(a, b Entry) int {
		return cmp.Compare(boolInt(a.Mount == ""), boolInt(b.Mount == ""))
	})
	for _, e := range entries {
		runs[e.Run] = true
		for _, pid := range e.PIDs {
			if err := reapPID(e, pid, &r); err != nil && !errors.Is(err, errGone) {
				r.Skipped = append(r.Skipped, Skip{Run: e.Run, ID: e.ID, PID: pid, Reason: err.Error()})
			}
		}
		if e.Mount != "" {
			if err := detach(e.Mount); err != nil {
				r.Skipped = append(r.Skipped, Skip{Run: e.Run, ID: e.ID, Reason: err.Error()})
			} else {
				r.Detached = append(r.Detached, e.Mount)
			}
		}
		if e.Chain != "" {
			if err := RemoveChain(e.Chain); err != nil {
				r.Skipped = append(r.Skipped, Skip{Run: e.Run, ID: e.ID, Reason: err.Error()})
			} else {
				r.Unchained = append(r.Unchained, e.Chain)
			}
		}
		for _, g := range e.Cgroups {
			if err := RemoveCgroup(g); err != nil {
				r.Skipped = append(r.Skipped, Skip{Run: e.Run, ID: e.ID, Reason: err.Error()})
			} else {
				r.Released = append(r.Released, g)
			}
		}
		r.Entries++
		_ = os.Remove(filepath.Join(dir, fileName(e.Run, e.ID)))
	}
	for run := range runs {
		r.Runs = append(r.Runs, run)
	}
	sort.Strings(r.Runs)
	return r
}

// ownerAlive reports whether the harness that wrote e still runs (or is us).
func ownerAlive(e Entry) bool {
	if e.Owner == os.Getpid() {
		return true
	}
	if !Alive(e.Owner, "") {
		return false
	}
	return e.OwnerID == nil || e.OwnerID.PID != e.Owner || e.OwnerID.Running()
}

// reapPID resumes and/or kills pid of e once it passes every check.
func reapPID(e Entry, pid int, r *Reaped) error {
	p, err := e.proc(pid)
	if err != nil {
		return err
	}
	h, err := openProc(p, e.Exe)
	if err != nil {
		return err
	}
	defer h.close()
	if e.Resume {
		if err := h.signal(syscall.SIGCONT); err != nil {
			return err
		}
		r.Resumed = append(r.Resumed, pid)
	}
	if e.Kind == KindProcess || !e.Resume {
		gerr := h.signalGroup(syscall.SIGKILL)
		err := h.signal(syscall.SIGKILL)
		if errors.Is(err, errGone) && h.leader && gerr == nil {
			err = nil // the group kill got there first
		}
		if err != nil {
			return errors.Join(gerr, err)
		}
		r.Killed = append(r.Killed, pid)
	}
	return nil
}

// proc returns the identity e records for pid, refusing PIDs that are
// never ours to signal.
func (e Entry) proc(pid int) (Proc, error) {
	switch {
	case pid <= 1:
		return Proc{}, fmt.Errorf("%w: pid %d is never signalled", ErrMismatch, pid)
	case pid == os.Getpid():
		return Proc{}, fmt.Errorf("%w: pid %d is this process", ErrMismatch, pid)
	case pid == os.Getppid():
		return Proc{}, fmt.Errorf("%w: pid %d is this process's parent", ErrMismatch, pid)
	}
	for _, p := range e.Procs {
		if p.PID == pid {
			return p, nil
		}
	}
	return Proc{}, fmt.Errorf("%w: no start time journaled for pid %d", ErrMismatch, pid)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
