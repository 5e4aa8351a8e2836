package faults

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faultline/faultline/groundwork/platform"
)

// MemoryLimit holds the selected instances to a memory limit, as a
// Kubernetes memory limit holds a container (platform.Limits): past it the
// kernel reclaims what it can, then its OOM killer kills the instance,
// which is started again under the same limit while the fault lasts (a
// container restarted after OOMKilled). The limit counts what an instance
// allocates from the injection on.
type MemoryLimit struct {
	Target Selector
	Bytes  int64
	// OOM says the limit is meant to kill: its memory is filled at once
	// (platform.Limit's Fill), Verify waits up to OOMWait for the kernel's
	// first OOM kill, and a window with none had no effect.
	OOM bool

	applied platform.Limited
}

// OOMWait bounds how long an OOM kill fault waits for its first kill.
const OOMWait = 15 * time.Second

// OOMKill holds the selected instances to a few pages of new memory and
// fills that at once with a stressor in the same group (platform.Limit's
// Fill), so that the kernel's OOM killer kills each instance now, and
// again after each restart as soon as it allocates, for as long as the
// fault lasts: a memory limit set far too low, or a leak that fills the
// container at once.
func OOMKill(s Selector) *MemoryLimit { return &MemoryLimit{Target: s, Bytes: 64 << 10, OOM: true} }

// Name implements Fault.
func (m *MemoryLimit) Name() string {
	if m.OOM {
		return fmt.Sprintf("OOM kill (memory limit of %d KiB) on %s", m.Bytes>>10, m.Target)
	}
	return fmt.Sprintf("memory limit of %d MiB on %s", m.Bytes>>20, m.Target)
}

// Services implements Targeted.
func (m *MemoryLimit) Services() []string { return []string{m.Target.service()} }

// Validate implements Fault.
func (m *MemoryLimit) Validate() error {
	if m.Bytes < 4096 {
		return fmt.Errorf("memory limit: %d bytes is less than a page", m.Bytes)
	}
	return m.Target.Validate()
}

// Inject implements Fault.
func (m *MemoryLimit) Inject(ctx context.Context, env *Env) (err error) {
	m.applied, err = limit(ctx, env, m.Target, platform.Limit{Memory: m.Bytes, Fill: m.OOM}, "memory limit")
	return err
}

// Verify implements Fault.
func (m *MemoryLimit) Verify(ctx context.Context, env *Env) (string, error) {
	if m.applied == nil {
		return "", fmt.Errorf("memory limit not applied")
	}
	if m.OOM {
		// A kill that does not come is reported as no effect at the end
		// of the window (the scenario is then unknown), not as a fault
		// that failed.
		err := until(ctx, time.Now().Add(OOMWait), 50*time.Millisecond, func() (bool, error) {
			e, err := m.applied.Effect()
			return e.OOMKills > 0, err
		})
		if err != nil && !errors.Is(err, errDeadline) {
			return "", err
		}
	}
	return m.applied.Verify(ctx)
}

// Report implements Reporter: the limit's account over the window; a
// limit no allocation met had no effect.
func (m *MemoryLimit) Report(ctx context.Context, env *Env) (string, error) {
	return report(ctx, m.applied, func(e platform.Effect) string {
		if m.OOM && e.OOMKills == 0 {
			return "the kernel OOM-killed none of the instances"
		}
		if e.LimitHits == 0 && e.OOMKills == 0 {
			return "no allocation met the memory limit"
		}
		return ""
	})
}

// Recover implements Fault.
func (m *MemoryLimit) Recover(ctx context.Context, env *Env) error {
	return unlimit(ctx, env, &m.applied)
}

// CPULimit holds the selected instances to a CPU quota, as a Kubernetes
// CPU limit does (CFS bandwidth control): an instance that has used its
// share of a 100 ms period waits for the next one, however idle the host.
type CPULimit struct {
	Target Selector
	Cores  float64 // 0.2 is Kubernetes' "200m"

	applied platform.Limited
}

// Name implements Fault.
func (c *CPULimit) Name() string {
	return fmt.Sprintf("CPU limit of %dm on %s", int(c.Cores*1000), c.Target)
}

// Services implements Targeted.
func (c *CPULimit) Services() []string { return []string{c.Target.service()} }

// Validate implements Fault.
func (c *CPULimit) Validate() error {
	if c.Cores < 0.01 {
		return fmt.Errorf("cpu limit: %v cores is less than the least quota (10m)", c.Cores)
	}
	return c.Target.Validate()
}

// Inject implements Fault.
func (c *CPULimit) Inject(ctx context.Context, env *Env) (err error) {
	c.applied, err = limit(ctx, env, c.Target, platform.Limit{CPU: c.Cores}, "cpu limit")
	return err
}

// Verify implements Fault.
func (c *CPULimit) Verify(ctx context.Context, env *Env) (string, error) {
	if c.applied == nil {
		return "", fmt.Errorf("cpu limit not applied")
	}
	return c.applied.Verify(ctx)
}

// Report implements Reporter: the limit's account over the window; a
// quota never used up had no effect.
func (c *CPULimit) Report(ctx context.Context, env *Env) (string, error) {
	return report(ctx, c.applied, func(e platform.Effect) string {
		if e.Throttled == 0 {
			return fmt.Sprintf("the instances never used up their quota (throttled in none of %d periods)", e.Periods)
		}
		return ""
	})
}

// Recover implements Fault.
func (c *CPULimit) Recover(ctx context.Context, env *Env) error {
	return unlimit(ctx, env, &c.applied)
}

// limit holds the instances s picks to l.
func limit(ctx context.Context, env *Env, s Selector, l platform.Limit, what string) (platform.Limited, error) {
	lp, err := platform.As[platform.Limits](env.Platform, what)
	if err != nil {
		return nil, err
	}
	sig, err := platform.As[platform.Signals](env.Platform, what)
	if err != nil {
		return nil, err
	}
	insts, err := s.Pick(env)
	if err != nil {
		return nil, err
	}
	targets, err := incarnations(sig, insts)
	if err != nil {
		return nil, fmt.Errorf("%s on %w", what, err)
	}
	return lp.Limit(ctx, env.ID, targets, l)
}

// report is applied's account, or an error wrapping ErrNoEffect when idle
// says why its effect was nil.
func report(ctx context.Context, applied platform.Limited, idle func(platform.Effect) string) (string, error) {
	if applied == nil {
		return "", nil
	}
	e, err := applied.Effect()
	if err != nil {
		return "", err
	}
	if why := idle(e); why != "" {
		return "", fmt.Errorf("%w: %s", ErrNoEffect, why)
	}
	return applied.Verify(ctx)
}

// unlimit undoes *applied, or removes the journal entry of a limit that
// was never applied.
func unlimit(ctx context.Context, env *Env, applied *platform.Limited) error {
	if *applied == nil {
		return env.Journal.Remove(env.ID)
	}
	err := (*applied).Undo(ctx)
	*applied = nil
	return err
}
