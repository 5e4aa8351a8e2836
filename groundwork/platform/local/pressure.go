package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

// pressureCore is the core that squeezed processes and burners share.
const pressureCore = 0

// CPUPressure implements platform.Pressure: it pins the targets' processes
// to one core and runs burners busy processes (`bank burn`) on that same
// core, so that the targets get a fraction of a CPU. The burners are
// journaled (identity and binary) before any affinity changes: a crash in
// between leaves them only until the journal's reap.
func (p *Platform) CPUPressure(_ context.Context, id string, targets []platform.Target, burners int) (platform.Applied, error) {
	c := &cpuPressure{p: p, id: id}
	var names []string
	for _, t := range targets {
		who, err := journal.Identify(t.Incarnation.PID)
		if err != nil {
			return c, fmt.Errorf("cpu pressure on %s: %w", t.Instance, err)
		}
		c.targets = append(c.targets, who)
		names = append(names, t.Instance)
	}
	var pids []int
	var ids []journal.Proc
	for range burners {
		cmd := exec.Command(p.bin, "burn", "--threads", "1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return c, fmt.Errorf("start burner: %w", err)
		}
		c.burners = append(c.burners, cmd)
		pids = append(pids, cmd.Process.Pid)
		// Identified before Wait can reap it: the PID is still this burner's.
		if who, err := journal.Identify(cmd.Process.Pid); err == nil {
			ids = append(ids, who)
		}
		go func() { _ = cmd.Wait() }()
	}
	if err := p.journal.Write(journal.Entry{Kind: "cpu", ID: id, Target: strings.Join(names, ","), PIDs: pids, Procs: ids, Exe: p.bin}); err != nil {
		return c, err
	}
	var errs []error
	for _, pid := range pids {
		errs = append(errs, setAffinity(pid, oneCore()))
	}
	for _, t := range c.targets {
		errs = append(errs, setAffinity(t.PID, oneCore()))
	}
	return c, errors.Join(errs...)
}

// cpuPressure is one CPUPressure in place.
type cpuPressure struct {
	p  *Platform
	id string

	mu      sync.Mutex
	targets []journal.Proc
	burners []*exec.Cmd
}

// Verify implements platform.Applied: the burners run and the targets are
// pinned to the one core.
func (c *cpuPressure) Verify(context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.burners {
		if b.Process.Signal(syscall.Signal(0)) != nil {
			return "", fmt.Errorf("burner %d is not running", b.Process.Pid)
		}
	}
	var pids []int
	for _, t := range c.targets {
		var s unix.CPUSet
		if err := unix.SchedGetaffinity(t.PID, &s); err != nil {
			return "", err
		}
		if s.Count() != 1 || !s.IsSet(pressureCore) {
			return "", fmt.Errorf("pid %d has affinity of %d cores", t.PID, s.Count())
		}
		pids = append(pids, t.PID)
	}
	return fmt.Sprintf("%d burners on core %d with pids %v", len(c.burners), pressureCore, pids), nil
}

// Undo implements platform.Applied: the burners are killed through their
// process handles and the targets get every core back, unless they have
// exited meanwhile (a PID's new owner is not ours to touch).
func (c *cpuPressure) Undo(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.burners {
		_ = b.Process.Kill()
	}
	c.burners = nil
	for _, t := range c.targets {
		if t.Running() {
			_ = setAffinity(t.PID, allCores())
		}
	}
	c.targets = nil
	return c.p.journal.Remove(c.id)
}

func oneCore() *unix.CPUSet {
	var s unix.CPUSet
	s.Set(pressureCore)
	return &s
}

func allCores() *unix.CPUSet {
	var s unix.CPUSet
	for i := range runtime.NumCPU() {
		s.Set(i)
	}
	return &s
}

// setAffinity sets every thread of pid to set.
func setAffinity(pid int, set *unix.CPUSet) error {
	tids, err := threads(pid)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range tids {
		errs = append(errs, unix.SchedSetaffinity(t, set))
	}
	return errors.Join(errs...)
}

// threads lists the thread IDs of pid.
func threads(pid int) ([]int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		if t, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, t)
		}
	}
	return out, nil
}
