package faults

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

// Kill sends Signal (SIGKILL unless set) to the selected instances. The
// platform restarts them, as a ReplicaSet would; Recover waits until they are
// ready again. With SIGTERM it is a graceful stop: the instance drains first.
// The signal goes to the exact incarnation chosen (platform.Signals), never
// to whatever runs in its place.
type Kill struct {
	Target Selector
	Signal syscall.Signal

	killed  []string
	targets []platform.Target
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
	sig, err := platform.As[platform.Signals](env.Platform, "kill")
	if err != nil {
		return err
	}
	insts, err := k.Target.Pick(env)
	if err != nil {
		return err
	}
	k.killed = names(insts)
	if err := env.Journal.Write(journal.Entry{Kind: "kill", ID: env.ID, Target: strings.Join(k.killed, ",")}); err != nil {
		return err
	}
	if k.targets, err = incarnations(sig, insts); err != nil {
		return fmt.Errorf("kill %w", err)
	}
	for _, t := range k.targets {
		if err := sig.Signal(t.Instance, t.Incarnation, k.sig()); err != nil {
			return err
		}
	}
	return nil
}

// Verify implements Fault: the signalled incarnations are gone (the
// platform has seen them exit), whoever runs in their place now.
func (k *Kill) Verify(ctx context.Context, env *Env) (string, error) {
	sig, err := platform.As[platform.Signals](env.Platform, "kill")
	if err != nil {
		return "", err
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, t := range k.targets {
		if err := waitGone(ctx, sig, t.Instance, t.Incarnation, time.Until(deadline)); err != nil {
			return "", fmt.Errorf("after %v: %w", k.sig(), err)
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
