package faults

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/faultline/faultline/harness/journal"
)

// CPUPressure squeezes the selected instances onto one core and runs Burners
// busy processes on that same core, so that they get a fraction of a CPU,
// like a noisy neighbour or a tight CPU limit. Recover kills the burners
// (through their process handles) and gives the instances every core back,
// unless they have exited meanwhile.
type CPUPressure struct {
	Target  Selector
	Burners int // default 2

	targets []journal.Proc
	burners []*exec.Cmd
}

// Name implements Fault.
func (c *CPUPressure) Name() string {
	return fmt.Sprintf("CPU pressure (%d burners) on %s", c.count(), c.Target)
}

func (c *CPUPressure) count() int {
	if c.Burners <= 0 {
		return 2
	}
	return c.Burners
}

// Services implements Targeted.
func (c *CPUPressure) Services() []string { return []string{c.Target.service()} }

// Validate implements Fault.
func (c *CPUPressure) Validate() error { return c.Target.Validate() }

const pressureCore = 0

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

// Inject implements Fault.
func (c *CPUPressure) Inject(ctx context.Context, env *Env) error {
	procs, err := processes(env)
	if err != nil {
		return err
	}
	insts, err := c.Target.Pick(env)
	if err != nil {
		return err
	}
	for _, in := range insts {
		pid, ok := procs.PID(in.Name)
		if !ok {
			return fmt.Errorf("cpu pressure on %s: not running", in.Name)
		}
		id, err := journal.Identify(pid)
		if err != nil {
			return fmt.Errorf("cpu pressure on %s: %w", in.Name, err)
		}
		c.targets = append(c.targets, id)
	}
	// Burners are journaled after they start (their PIDs are needed), but
	// the entry is written before they get a core: a crash in between leaves
	// them only until the journal's reap.
	var bp []int
	var ids []journal.Proc
	for range c.count() {
		cmd := exec.Command(procs.Binary(), "burn", "--threads", "1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start burner: %w", err)
		}
		c.burners = append(c.burners, cmd)
		bp = append(bp, cmd.Process.Pid)
		// Identified before Wait can reap it: the PID is still this burner's.
		if id, err := journal.Identify(cmd.Process.Pid); err == nil {
			ids = append(ids, id)
		}
		go func() { _ = cmd.Wait() }()
	}
	if err := env.Journal.Write(journal.Entry{Kind: "cpu", ID: env.ID, Target: strings.Join(names(insts), ","), PIDs: bp, Procs: ids, Exe: procs.Binary()}); err != nil {
		return err
	}
	var errs []error
	for _, pid := range bp {
		errs = append(errs, setAffinity(pid, oneCore()))
	}
	for _, t := range c.targets {
		errs = append(errs, setAffinity(t.PID, oneCore()))
	}
	return errors.Join(errs...)
}

// Verify implements Fault: burners run and targets are pinned to one core.
func (c *CPUPressure) Verify(ctx context.Context, env *Env) (string, error) {
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

// Recover implements Fault.
func (c *CPUPressure) Recover(ctx context.Context, env *Env) error {
	for _, b := range c.burners {
		_ = b.Process.Kill()
	}
	c.burners = nil
	for _, t := range c.targets {
		if t.Running() { // a process that died meanwhile needs nothing; its PID's new owner is not ours
			_ = setAffinity(t.PID, allCores())
		}
	}
	c.targets = nil
	return env.Journal.Remove(env.ID)
}
