package faults

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline/harness/journal"
)

// Pause freezes the selected instances with SIGSTOP: connections stay open
// and nothing answers, as with a stalled VM or a stop-the-world pause.
// Recover resumes them with SIGCONT. Both signals go through the platform's
// handle on the very process that was journaled: a process that exited
// meanwhile is left alone, and so is whoever got its PID.
type Pause struct {
	Target Selector

	pids map[string]int
}

// Name implements Fault.
func (p *Pause) Name() string { return "pause " + p.Target.String() }

// Services implements Targeted.
func (p *Pause) Services() []string { return []string{p.Target.service()} }

// Validate implements Fault.
func (p *Pause) Validate() error { return p.Target.Validate() }

// Inject implements Fault.
func (p *Pause) Inject(ctx context.Context, env *Env) error {
	procs, err := processes(env)
	if err != nil {
		return err
	}
	insts, err := p.Target.Pick(env)
	if err != nil {
		return err
	}
	p.pids = map[string]int{}
	var list []int
	var ids []journal.Proc
	for _, in := range insts {
		pid, ok := procs.PID(in.Name)
		if !ok {
			return fmt.Errorf("pause %s: not running", in.Name)
		}
		id, err := journal.Identify(pid)
		if err != nil {
			return fmt.Errorf("pause %s: %w", in.Name, err)
		}
		p.pids[in.Name] = pid
		list, ids = append(list, pid), append(ids, id)
	}
	if err := env.Journal.Write(journal.Entry{Kind: "pause", ID: env.ID, Target: strings.Join(names(insts), ","),
		PIDs: list, Procs: ids, Exe: procs.Binary(), Resume: true}); err != nil {
		return err
	}
	for name, pid := range p.pids {
		if err := procs.SignalProcess(name, pid, syscall.SIGSTOP); err != nil {
			return fmt.Errorf("pause %s: %w", name, err)
		}
	}
	return nil
}

// Verify implements Fault: every process reaches state T (stopped); the
// kernel delivers the signal asynchronously, so it waits up to a second.
func (p *Pause) Verify(ctx context.Context, env *Env) (string, error) {
	var ev []string
	for name, pid := range p.pids {
		st, err := procState(pid)
		for i := 0; i < 100 && err == nil && st != "T"; i++ {
			time.Sleep(10 * time.Millisecond)
			st, err = procState(pid)
		}
		if err != nil || st != "T" {
			return "", fmt.Errorf("%s (pid %d) is in state %q, not stopped: %v", name, pid, st, err)
		}
		ev = append(ev, fmt.Sprintf("%s pid %d state T", name, pid))
	}
	return strings.Join(ev, ", "), nil
}

// procState returns the state letter of /proc/pid/stat.
func procState(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return "", fmt.Errorf("unreadable stat")
	}
	return string(b[i+2]), nil
}

// Recover implements Fault.
func (p *Pause) Recover(ctx context.Context, env *Env) error {
	if procs, err := processes(env); err == nil {
		for name, pid := range p.pids {
			_ = procs.SignalProcess(name, pid, syscall.SIGCONT) // a process that died meanwhile needs nothing
		}
	}
	return env.Journal.Remove(env.ID)
}
