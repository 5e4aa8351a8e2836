package faults

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/platform"
)

// Pause freezes the selected instances (platform.Freezer: SIGSTOP on local,
// a paused container elsewhere): connections stay open and nothing
// answers, as with a stalled VM or a stop-the-world pause. Recover lets
// them go on. Both act on the very incarnations that were chosen and
// journaled: one that exited meanwhile is left alone, and so is whatever
// replaced it.
type Pause struct {
	Target Selector

	targets []platform.Target
}

// Name implements Fault.
func (p *Pause) Name() string { return "pause " + p.Target.String() }

// Services implements Targeted.
func (p *Pause) Services() []string { return []string{p.Target.service()} }

// Validate implements Fault.
func (p *Pause) Validate() error { return p.Target.Validate() }

// Inject implements Fault.
func (p *Pause) Inject(ctx context.Context, env *Env) error {
	fr, err := platform.As[platform.Freezer](env.Platform, "pause")
	if err != nil {
		return err
	}
	sig, err := platform.As[platform.Signals](env.Platform, "pause")
	if err != nil {
		return err
	}
	insts, err := p.Target.Pick(env)
	if err != nil {
		return err
	}
	if p.targets, err = incarnations(sig, insts); err != nil {
		return fmt.Errorf("pause %w", err)
	}
	return fr.Freeze(ctx, env.ID, p.targets)
}

// Verify implements Fault: every incarnation is stopped; the kernel
// delivers the signal asynchronously, so it waits up to a second.
func (p *Pause) Verify(ctx context.Context, env *Env) (string, error) {
	sig, err := platform.As[platform.Signals](env.Platform, "pause")
	if err != nil {
		return "", err
	}
	var ev []string
	for _, t := range p.targets {
		st, err := sig.State(t.Instance, t.Incarnation)
		for i := 0; i < 100 && err == nil && st != platform.Stopped; i++ {
			time.Sleep(10 * time.Millisecond)
			st, err = sig.State(t.Instance, t.Incarnation)
		}
		if err != nil || st != platform.Stopped {
			return "", fmt.Errorf("%s (%s) is %s, not stopped: %v", t.Instance, t.Incarnation.ID, st, err)
		}
		ev = append(ev, fmt.Sprintf("%s %s stopped", t.Instance, t.Incarnation.ID))
	}
	return strings.Join(ev, ", "), nil
}

// Recover implements Fault.
func (p *Pause) Recover(ctx context.Context, env *Env) error {
	fr, err := platform.As[platform.Freezer](env.Platform, "pause")
	if err != nil {
		return env.Journal.Remove(env.ID)
	}
	return fr.Thaw(ctx, env.ID)
}
