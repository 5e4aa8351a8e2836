package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

// RollingRestart restarts every instance of each of Services one at a time,
// as a deployment rollout does. Where the platform has rollouts
// (platform.Rollouts: a StatefulSet's rolling update on Kubernetes) the
// services' controllers roll them over, one service after the other;
// elsewhere each instance's process gets SIGTERM in turn and its
// replacement must be ready before the next. It runs in the background from
// Inject; Recover waits for the rollout to finish.
type RollingRestart struct {
	Of []string

	done chan error
	mu   sync.Mutex
	log  []string
}

// Rollout returns a rolling restart of services.
func Rollout(services ...string) *RollingRestart { return &RollingRestart{Of: services} }

// Name implements Fault.
func (r *RollingRestart) Name() string {
	return "rolling restart of " + strings.Join(r.Of, ", ")
}

// Services implements Targeted.
func (r *RollingRestart) Services() []string { return r.Of }

// Validate implements Fault.
func (r *RollingRestart) Validate() error {
	if len(r.Of) == 0 {
		return errors.New("rolling restart of no service")
	}
	for _, s := range r.Of {
		if err := All(s).Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Inject implements Fault.
func (r *RollingRestart) Inject(ctx context.Context, env *Env) error {
	ro, rolls := env.Platform.(platform.Rollouts)
	sig, err := platform.As[platform.Signals](env.Platform, "rolling restart")
	if err != nil && !rolls {
		return err
	}
	if err := env.Journal.Write(journal.Entry{Kind: "rollout", ID: env.ID, Target: strings.Join(r.Of, ",")}); err != nil {
		return err
	}
	r.done = make(chan error, 1)
	if rolls {
		go func() { r.done <- r.rollOut(ctx, ro) }()
		return nil
	}
	go func() {
		var errs []error
		for _, s := range r.Of {
			for _, in := range env.Platform.Instances(s) {
				old, ok := sig.Incarnation(in.Name)
				if !ok {
					errs = append(errs, fmt.Errorf("restart %s: not running", in.Name))
					continue
				}
				if err := sig.Signal(in.Name, old, syscall.SIGTERM); err != nil {
					errs = append(errs, err)
					continue
				}
				r.mu.Lock()
				r.log = append(r.log, "restarting "+in.Name)
				r.mu.Unlock()
				// The old process reports ready until it exits: wait for
				// it to go, then for its replacement to be ready.
				errs = append(errs, waitGone(ctx, sig, in.Name, old, 30*time.Second))
				errs = append(errs, waitReady(ctx, env, []string{in.Name}, 60*time.Second))
			}
		}
		r.done <- errors.Join(errs...)
	}()
	return nil
}

// rolloutLimit bounds how long one service's rollout may take.
const rolloutLimit = 2 * time.Minute

// RecoveryLimit says how long Recover may wait for the whole rollout: each
// service's bound in turn.
func (r *RollingRestart) RecoveryLimit() time.Duration {
	return time.Duration(len(r.Of)) * rolloutLimit
}

// rollOut rolls each service over through its controller, one service
// after the other, each finished before the next begins.
func (r *RollingRestart) rollOut(ctx context.Context, ro platform.Rollouts) error {
	var errs []error
	for _, s := range r.Of {
		if err := ro.RollOut(ctx, s); err != nil {
			errs = append(errs, err)
			continue
		}
		r.mu.Lock()
		r.log = append(r.log, "rolling out "+s)
		r.mu.Unlock()
		err := until(ctx, time.Now().Add(rolloutLimit), 250*time.Millisecond, func() (bool, error) {
			return ro.RolledOut(ctx, s)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("rollout of %s not finished within %v: %w", s, rolloutLimit, err))
		}
	}
	return errors.Join(errs...)
}

// Verify implements Fault: at least one instance (or one service's
// rollout) has been restarted.
func (r *RollingRestart) Verify(ctx context.Context, env *Env) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		n := len(r.log)
		first := ""
		if n > 0 {
			first = r.log[0]
		}
		r.mu.Unlock()
		if n > 0 {
			return first, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no instance restarted yet")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Recover implements Fault.
func (r *RollingRestart) Recover(ctx context.Context, env *Env) error {
	var err error
	if r.done != nil {
		select {
		case err = <-r.done:
			r.done = nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(err, env.Journal.Remove(env.ID))
}
