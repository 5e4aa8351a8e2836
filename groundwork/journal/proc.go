package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Proc identifies one process across PID reuse: once a process exits the
// kernel hands its PID to another, but never with the same start time in
// the same boot.
type Proc struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // field 22 of /proc/<pid>/stat: clock ticks after boot
	Boot  string `json:"boot"`  // /proc/sys/kernel/random/boot_id
}

// Identify returns the identity of the process pid. For a child of the
// caller it is exact until the child is waited for; for any other process
// the PID may have been reused already, which only the caller can rule out.
func Identify(pid int) (Proc, error) {
	st, err := readStat(pid)
	if err != nil {
		return Proc{}, err
	}
	boot, err := bootID()
	if err != nil {
		return Proc{}, err
	}
	return Proc{PID: pid, Start: st.start, Boot: boot}, nil
}

// Running reports whether p still runs: its PID is taken by a process with
// its start time, in its boot.
func (p Proc) Running() bool {
	now, err := Identify(p.PID)
	return err == nil && now == p
}

// Alive reports whether pid is running the binary exe ("" skips the check).
// It is a probe for tests and waits, never a reason to signal: a PID may
// have been reused (see Proc).
func Alive(pid int, exe string) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	if exe == "" {
		return true
	}
	return sameExe(pid, exe) == nil
}

// stat is what the harness needs of /proc/<pid>/stat.
type stat struct {
	state byte
	pgrp  int
	start uint64
}

func readStat(pid int) (stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, err
	}
	// The command name (field 2) is in parentheses and may hold anything,
	// spaces and parentheses included: fields 3 on follow the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("/proc/%d/stat: unreadable", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return stat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	pgrp, err1 := strconv.Atoi(f[5-3])
	start, err2 := strconv.ParseUint(f[22-3], 10, 64)
	if err := errors.Join(err1, err2); err != nil || len(f[0]) != 1 {
		return stat{}, fmt.Errorf("/proc/%d/stat: unreadable: %v", pid, err)
	}
	return stat{state: f[0][0], pgrp: pgrp, start: start}, nil
}

var bootID = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("boot id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
})

func sameExe(pid int, exe string) error {
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return err
	}
	link = strings.TrimSuffix(link, " (deleted)")
	if link == exe {
		return nil
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil && real == link {
		return nil
	}
	return fmt.Errorf("runs %s, not %s", link, exe)
}

// ErrMismatch means a journaled PID now belongs to a process other than
// the one journaled (the PID was reused, or it runs another binary or user):
// it is not signalled.
var ErrMismatch = errors.New("not the journaled process")

// errGone means the journaled process has exited: there is nothing to do.
var errGone = errors.New("process has exited")

// handle is a pidfd on a journaled process whose identity has been checked.
type handle struct {
	fd     int
	p      Proc
	leader bool // leads its own process group
}

// openProc opens a pidfd on p.PID and only then checks that the process it
// refers to is p, running exe as the current user. Checking after opening
// leaves no gap: a signal through the pidfd reaches that process or, once
// it has exited, nobody (never the next owner of its PID); and since a
// signal through it succeeds only while that process lives, the /proc files
// read in between were its own.
func openProc(p Proc, exe string) (*handle, error) {
	boot, err := bootID()
	if err != nil {
		return nil, err
	}
	if p.Boot != boot {
		return nil, fmt.Errorf("%w: pid %d was journaled in boot %s, this is boot %s", ErrMismatch, p.PID, p.Boot, boot)
	}
	fd, err := unix.PidfdOpen(p.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil, errGone
	}
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", p.PID, err)
	}
	h := &handle{fd: fd, p: p}
	if err := h.verify(exe); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

func (h *handle) verify(exe string) error {
	pid := h.p.PID
	st, err := readStat(pid)
	if errors.Is(err, os.ErrNotExist) || (err == nil && st.state == 'Z') {
		return errGone
	}
	if err != nil {
		return err
	}
	if st.start != h.p.Start {
		return fmt.Errorf("%w: pid %d reused: it started at tick %d, the journaled process at tick %d", ErrMismatch, pid, st.start, h.p.Start)
	}
	fi, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	if err != nil {
		return errGone
	}
	if s, ok := fi.Sys().(*syscall.Stat_t); !ok || int(s.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: pid %d does not run as uid %d", ErrMismatch, pid, os.Geteuid())
	}
	if exe == "" {
		return fmt.Errorf("%w: pid %d: no binary journaled to check", ErrMismatch, pid)
	}
	if err := sameExe(pid, exe); errors.Is(err, os.ErrNotExist) {
		return errGone
	} else if err != nil {
		return fmt.Errorf("%w: pid %d %v", ErrMismatch, pid, err)
	}
	h.leader = st.pgrp == pid
	return nil
}

// signal sends sig to the process through the pidfd.
func (h *handle) signal(sig syscall.Signal) error {
	err := unix.PidfdSendSignal(h.fd, sig, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return errGone
	}
	return err
}

// signalGroup sends sig to the process group the process leads, if it leads
// one: through the pidfd where the kernel can (Linux 6.9 and later), else
// by group ID right after the pidfd confirms the leader still lives (while
// it does, no other group can have its ID).
func (h *handle) signalGroup(sig syscall.Signal) error {
	if !h.leader {
		return nil
	}
	err := unix.PidfdSendSignal(h.fd, sig, nil, unix.PIDFD_SIGNAL_PROCESS_GROUP)
	if !errors.Is(err, unix.EINVAL) {
		if errors.Is(err, unix.ESRCH) {
			return errGone
		}
		return err
	}
	if err := h.signal(0); err != nil {
		return err
	}
	return syscall.Kill(-h.p.PID, sig)
}

func (h *handle) close() { _ = unix.Close(h.fd) }
