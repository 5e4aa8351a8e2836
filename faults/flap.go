package faults

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

// Flap kills the selected instance again each time it comes back, every
// Every at most, so that it keeps joining and leaving the mesh. Recover stops
// the flapping and waits until it is ready.
type Flap struct {
	Target Selector
	Every  time.Duration

	mu     sync.Mutex
	name   string
	kills  int
	cancel context.CancelFunc
	done   chan struct{}
}

// Name implements Fault.
func (f *Flap) Name() string { return fmt.Sprintf("flap %s every %v", f.Target, f.Every) }

// Services implements Targeted.
func (f *Flap) Services() []string { return []string{f.Target.service()} }

// Validate implements Fault.
func (f *Flap) Validate() error {
	if f.Every < 100*time.Millisecond {
		return fmt.Errorf("flap: Every must be at least 100ms, got %v", f.Every)
	}
	return f.Target.Validate()
}

// Inject implements Fault.
func (f *Flap) Inject(ctx context.Context, env *Env) error {
	sig, err := platform.As[platform.Signals](env.Platform, "flap")
	if err != nil {
		return err
	}
	insts, err := f.Target.Pick(env)
	if err != nil {
		return err
	}
	f.name = insts[0].Name
	if err := env.Journal.Write(journal.Entry{Kind: "flap", ID: env.ID, Target: f.name}); err != nil {
		return err
	}
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		for fctx.Err() == nil {
			if inc, ok := sig.Incarnation(f.name); ok && sig.Signal(f.name, inc, syscall.SIGKILL) == nil {
				f.mu.Lock()
				f.kills++
				f.mu.Unlock()
			}
			select {
			case <-fctx.Done():
				return
			case <-time.After(f.Every):
			}
			_ = waitReady(fctx, env, []string{f.name}, 30*time.Second)
		}
	}()
	return nil
}

// Verify implements Fault.
func (f *Flap) Verify(ctx context.Context, env *Env) (string, error) {
	for range 500 {
		f.mu.Lock()
		n := f.kills
		f.mu.Unlock()
		if n > 0 {
			return fmt.Sprintf("%s killed %d times so far", f.name, n), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "", fmt.Errorf("%s not killed yet", f.name)
}

// Recover implements Fault.
func (f *Flap) Recover(ctx context.Context, env *Env) error {
	if f.cancel != nil {
		f.cancel()
		<-f.done
		f.cancel = nil
	}
	if f.name != "" {
		if err := waitReady(ctx, env, []string{f.name}, 60*time.Second); err != nil {
			return err
		}
	}
	return env.Journal.Remove(env.ID)
}
