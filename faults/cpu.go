package faults

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/groundwork/platform"
)

// CPUPressure squeezes the selected instances' CPU (platform.Pressure: on
// local, pinned to one core shared with Burners busy processes; on kind, a
// CFS quota of the same share of a core), so that they get a fraction of a
// CPU, like a noisy neighbour or a tight CPU limit. Recover gives it back,
// to the incarnations that still run.
type CPUPressure struct {
	Target  Selector
	Burners int // default 2

	applied platform.Applied
}

// Name implements Fault. It names the share, not the mechanism: kind
// starts no burner, it writes the same share as a quota.
func (c *CPUPressure) Name() string {
	return fmt.Sprintf("CPU pressure (a core shared with %d busy neighbours) on %s", c.count(), c.Target)
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

// Inject implements Fault.
func (c *CPUPressure) Inject(ctx context.Context, env *Env) error {
	pr, err := platform.As[platform.Pressure](env.Platform, "cpu pressure")
	if err != nil {
		return err
	}
	sig, err := platform.As[platform.Signals](env.Platform, "cpu pressure")
	if err != nil {
		return err
	}
	insts, err := c.Target.Pick(env)
	if err != nil {
		return err
	}
	targets, err := incarnations(sig, insts)
	if err != nil {
		return fmt.Errorf("cpu pressure on %w", err)
	}
	c.applied, err = pr.CPUPressure(ctx, env.ID, targets, c.count())
	return err
}

// Verify implements Fault.
func (c *CPUPressure) Verify(ctx context.Context, env *Env) (string, error) {
	if c.applied == nil {
		return "", fmt.Errorf("cpu pressure not applied")
	}
	return c.applied.Verify(ctx)
}

// Recover implements Fault.
func (c *CPUPressure) Recover(ctx context.Context, env *Env) error {
	if c.applied == nil {
		return env.Journal.Remove(env.ID)
	}
	err := c.applied.Undo(ctx)
	c.applied = nil
	return err
}
