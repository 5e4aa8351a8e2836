package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline/harness/journal"
)

// RollingRestart restarts every instance of each of Services one at a time
// (SIGTERM, then wait until the replacement is ready), as a deployment
// rollout does. It runs in the background from Inject; Recover waits for the
// rollout to finish.
type RollingRestart struct {
	Of []string

	done chan error
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
	procs, err := processes(env)
	if err != nil {
		return err
	}
	if err := env.Journal.Write(journal.Entry{Kind: "rollout", ID: env.ID, Target: strings.Join(r.Of, ",")}); err != nil {
		return err
	}
	r.done = make(chan error, 1)
	go func() {
		var errs []error
		for _, s := range r.Of {
			for _, in := range env.Platform.Instances(s) {
				if err := procs.Signal(in.Name, syscall.SIGTERM); err != nil {
					errs = append(errs, err)
					continue
				}
				r.log = append(r.log, in.Name)
				time.Sleep(50 * time.Millisecond) // let it leave before waiting on readiness
				errs = append(errs, waitReady(ctx, env, []string{in.Name}, 60*time.Second))
			}
		}
		r.done <- errors.Join(errs...)
	}()
	return nil
}

// Verify implements Fault: at least one instance has been restarted.
func (r *RollingRestart) Verify(ctx context.Context, env *Env) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for len(r.log) == 0 {
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no instance restarted yet")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "restarting " + r.log[0], nil
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
