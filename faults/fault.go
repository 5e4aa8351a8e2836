// Package faults is the catalogue of faults Faultline injects into the bank:
// one fault a file, each a small struct of documented settings with Inject,
// Verify (evidence it took effect) and an idempotent Recover. Every fault
// journals itself before it acts, so that a run that dies mid-fault is
// recovered by the next run's reap.
//
// Faults act only through the platform's capabilities (platform.Signals,
// platform.Freezer, platform.Pressure, platform.Links, platform.Endpoints,
// ...); on a platform that lacks one they fail with an error wrapping
// ErrUnsupported, which the runner judges unknown. They do not schedule
// themselves: the harness's runner does.
package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/topology"
)

// Fault is something that goes wrong on purpose.
type Fault interface {
	// Name describes the fault for reports, e.g. "kill 1 of card-processing".
	Name() string
	// Validate checks the fault's settings against the topology before
	// anything runs.
	Validate() error
	// Inject makes the fault happen. It journals first.
	Inject(ctx context.Context, env *Env) error
	// Verify returns evidence that the fault took effect, or an error.
	Verify(ctx context.Context, env *Env) (string, error)
	// Recover undoes the fault and removes its journal entry. It is
	// idempotent and safe to call after a failed Inject.
	Recover(ctx context.Context, env *Env) error
}

// Targeted is implemented by faults that can say which services they hit,
// for tier contracts and the blast-radius matrix.
type Targeted interface {
	Services() []string
}

// Reporter is implemented by faults that can say, just before they are
// recovered, what they did over their window (Verify only shows that they
// took hold): how often the kernel OOM-killed an instance, how many
// periods it throttled one.
// A report that wraps ErrNoEffect says the fault took hold but did
// nothing over its window: nothing was tested under it.
type Reporter interface {
	Report(ctx context.Context, env *Env) (string, error)
}

// ErrNoEffect is what a Reporter's error wraps when its fault had no
// effect (a CPU limit never reached, a memory limit never hit).
var ErrNoEffect = errors.New("the fault had no effect")

// Env is what a fault acts on.
type Env struct {
	Platform platform.Platform
	Journal  *journal.Journal
	Rand     *rand.Rand
	// ID is unique per injection; faults use it to name journal entries,
	// toxics and admin faults.
	ID string
}

// ErrUnsupported is returned, wrapped, when the platform lacks a
// capability a fault needs; the runner judges the fault unknown.
var ErrUnsupported = platform.ErrUnsupported

// incarnations returns the current incarnation of each instance, to act on
// exactly those and journal them.
func incarnations(sig platform.Signals, insts []platform.Instance) ([]platform.Target, error) {
	out := make([]platform.Target, 0, len(insts))
	for _, in := range insts {
		inc, ok := sig.Incarnation(in.Name)
		if !ok {
			return nil, fmt.Errorf("%s: not running", in.Name)
		}
		out = append(out, platform.Target{Instance: in.Name, Incarnation: inc})
	}
	return out, nil
}

// waitGone waits until inc of instance is gone (exited or replaced).
func waitGone(ctx context.Context, sig platform.Signals, instance string, inc platform.Incarnation, limit time.Duration) error {
	err := until(ctx, time.Now().Add(limit), 20*time.Millisecond, func() (bool, error) {
		st, err := sig.State(instance, inc)
		return st == platform.Gone, err
	})
	if errors.Is(err, errDeadline) {
		return fmt.Errorf("%s (%s) did not stop within %v", instance, inc.ID, limit)
	}
	return err
}

// errDeadline is until's error when the deadline passes first.
var errDeadline = errors.New("deadline passed")

// until asks done every interval until it says true or fails, ctx ends,
// or deadline passes (errDeadline).
func until(ctx context.Context, deadline time.Time, every time.Duration, done func() (bool, error)) error {
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return errDeadline
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// Selector chooses instances: one named Instance, or of Service: Count of
// them, or Percent of them (rounded up), or all when both are zero. The
// choice is random from the run's seeded source, and recorded.
type Selector struct {
	Service  string
	Instance string
	Count    int
	Percent  int
}

// One selects one instance of service.
func One(service string) Selector { return Selector{Service: service, Count: 1} }

// All selects every instance of service.
func All(service string) Selector { return Selector{Service: service} }

// Instance selects the named instance.
func Instance(name string) Selector { return Selector{Instance: name} }

func (s Selector) String() string {
	switch {
	case s.Instance != "":
		return s.Instance
	case s.Count > 0:
		return fmt.Sprintf("%d of %s", s.Count, s.Service)
	case s.Percent > 0:
		return fmt.Sprintf("%d%% of %s", s.Percent, s.Service)
	}
	return "all of " + s.Service
}

// Validate checks the selector against the topology.
func (s Selector) Validate() error {
	if s.Instance == "" && s.Service == "" {
		return errors.New("selector names no service or instance")
	}
	if s.Service != "" && s.Service != topology.Store {
		if _, ok := topology.Lookup(s.Service); !ok {
			return fmt.Errorf("unknown service %q", s.Service)
		}
	}
	if s.Count < 0 || s.Percent < 0 || s.Percent > 100 || (s.Count > 0 && s.Percent > 0) {
		return fmt.Errorf("selector %v: count and percent are exclusive, percent in 0-100", s)
	}
	return nil
}

// service returns the service the selector targets.
func (s Selector) service() string {
	if s.Service != "" {
		return s.Service
	}
	for i := len(s.Instance) - 1; i > 0; i-- {
		if s.Instance[i] == '-' {
			return s.Instance[:i]
		}
	}
	return s.Instance
}

// Pick returns the selected instances.
func (s Selector) Pick(env *Env) ([]platform.Instance, error) {
	if s.Instance != "" {
		for _, in := range env.Platform.Instances("") {
			if in.Name == s.Instance {
				return []platform.Instance{in}, nil
			}
		}
		return nil, fmt.Errorf("no instance %q", s.Instance)
	}
	all := env.Platform.Instances(s.Service)
	if len(all) == 0 {
		return nil, fmt.Errorf("no instances of %q", s.Service)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	n := len(all)
	switch {
	case s.Count > 0:
		n = min(s.Count, len(all))
	case s.Percent > 0:
		n = (len(all)*s.Percent + 99) / 100
	}
	env.Rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	return all[:n], nil
}

func names(insts []platform.Instance) []string {
	out := make([]string, len(insts))
	for i, in := range insts {
		out[i] = in.Name
	}
	return out
}

// waitReady waits until every instance is ready, where the platform can say.
func waitReady(ctx context.Context, env *Env, insts []string, limit time.Duration) error {
	r, ok := env.Platform.(platform.Readiness)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var errs []error
	for _, in := range insts {
		errs = append(errs, r.WaitReady(ctx, in))
	}
	return errors.Join(errs...)
}
