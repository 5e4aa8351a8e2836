package faults

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline/harness/journal"
)

// Kill sends Signal (SIGKILL unless set) to the selected instances. The
// platform restarts them, as a ReplicaSet would; Recover waits until they are
// ready again. With SIGTERM it is a graceful stop: the instance drains first.
type Kill struct {
	Target Selector
	Signal syscall.Signal

	killed []string
	pids   map[string]int
}

// KillStoreNode kills store node i.
func KillStoreNode(i int) *Kill { return &Kill{Target: Instance(fmt.Sprintf("store-%d", i))} }

// GracefulStop stops the selected instances with SIGTERM.
func GracefulStop(s Selector) *Kill { return &Kill{Target: s, Signal: syscall.SIGTERM} }

func (k *Kill) sig() syscall.Signal {
	if k.Signal == 0 {
		return syscall.SIGKILL
	}
	return k.Signal
}

// Name implements Fault.
func (k *Kill) Name() string {
	if k.sig() == syscall.SIGTERM {
		return "graceful stop of " + k.Target.String()
	}
	return "kill " + k.Target.String()
}

// Services implements Targeted.
func (k *Kill) Services() []string { return []string{k.Target.service()} }

// Validate implements Fault.
func (k *Kill) Validate() error { return k.Target.Validate() }

// Inject implements Fault.
func (k *Kill) Inject(ctx context.Context, env *Env) error {
	procs, err := processes(env)
	if err != nil {
		return err
	}
	insts, err := k.Target.Pick(env)
	if err != nil {
		return err
	}
	k.killed, k.pids = names(insts), map[string]int{}
	if err := env.Journal.Write(journal.Entry{Kind: "kill", ID: env.ID, Target: strings.Join(k.killed, ",")}); err != nil {
		return err
	}
	for _, in := range insts {
		k.pids[in.Name], _ = procs.PID(in.Name)
		if err := procs.Signal(in.Name, k.sig()); err != nil {
			return err
		}
	}
	return nil
}

// Verify implements Fault: the signalled processes are gone.
func (k *Kill) Verify(ctx context.Context, env *Env) (string, error) {
	deadline := time.Now().Add(15 * time.Second)
	for _, name := range k.killed {
		for journal.Alive(k.pids[name], "") {
			if time.Now().After(deadline) {
				return "", fmt.Errorf("%s (pid %d) still running after %v", name, k.pids[name], k.sig())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return fmt.Sprintf("%s gone (%v)", strings.Join(k.killed, ", "), k.sig()), nil
}

// Recover implements Fault: wait for the replacements to be ready.
func (k *Kill) Recover(ctx context.Context, env *Env) error {
	err := waitReady(ctx, env, k.killed, 60*time.Second)
	if err == nil {
		err = env.Journal.Remove(env.ID)
	}
	return err
}

// SelfHealing reports that the platform repairs a kill by itself: recovery
// time counts from the kill.
func (k *Kill) SelfHealing() bool { return true }
