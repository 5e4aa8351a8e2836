package faults

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/faultfs"
	"github.com/faultline/faultline/system/topology"
)

// PowerLoss cuts the power to the selected store nodes at one instant: each
// is frozen where it stands (platform.Freezer), everything its disk had not
// fsynced is thrown away (platform.Disks: the fault filesystem holds
// writes until fsync as a page cache does), and it is killed. The platform
// starts it again on what its disk kept, as a machine does when the power
// comes back; Recover waits until it is ready.
//
// With every node it is Jepsen's coordinated power failure (NATS 2.12.1
// analysis): the store keeps only what some node had fsynced, and NATS
// JetStream fsyncs every two minutes by default while it acknowledges at
// once. Acknowledged writes the nodes had not fsynced are gone; the money
// checks count them.
type PowerLoss struct {
	Target Selector // store nodes

	frozen  bool
	targets []platform.Target
	lost    map[string]faultfs.Lost
}

// PowerFailure cuts the power to every store node at once.
func PowerFailure() *PowerLoss { return &PowerLoss{Target: All(topology.Store)} }

// PowerLossOf cuts the power to store node i alone.
func PowerLossOf(i int) *PowerLoss {
	return &PowerLoss{Target: Instance(fmt.Sprintf("%s-%d", topology.Store, i))}
}

// Name implements Fault.
func (f *PowerLoss) Name() string { return "power loss of " + f.Target.String() }

// Services implements Targeted.
func (f *PowerLoss) Services() []string { return []string{topology.Store} }

// Validate implements Fault.
func (f *PowerLoss) Validate() error {
	if err := f.Target.Validate(); err != nil {
		return err
	}
	if f.Target.service() != topology.Store {
		return fmt.Errorf("power loss acts on store nodes, not %s", f.Target)
	}
	return nil
}

func (f *PowerLoss) freezeID(env *Env) string { return env.ID + "-frozen" }

// Inject implements Fault.
func (f *PowerLoss) Inject(ctx context.Context, env *Env) error {
	sig, err := platform.As[platform.Signals](env.Platform, "power loss")
	if err != nil {
		return err
	}
	fr, err := platform.As[platform.Freezer](env.Platform, "power loss")
	if err != nil {
		return err
	}
	disks, err := storeDisks(env, f.Target, "power loss")
	if err != nil {
		return err
	}
	nodes := slices.Sorted(maps.Keys(disks))
	insts := make([]platform.Instance, 0, len(nodes))
	for _, in := range env.Platform.Instances(topology.Store) {
		if _, ok := disks[in.Name]; ok {
			insts = append(insts, in)
		}
	}
	if err := env.Journal.Write(journal.Entry{Kind: "power", ID: env.ID, Target: strings.Join(nodes, ",")}); err != nil {
		return err
	}
	if f.targets, err = incarnations(sig, insts); err != nil {
		return fmt.Errorf("power loss: %w", err)
	}
	// Frozen first, so that no node writes, or answers, after its disk
	// has lost what it held: the instant is the same for all.
	if err := fr.Freeze(ctx, f.freezeID(env), f.targets); err != nil {
		return err
	}
	f.frozen = true
	f.lost = map[string]faultfs.Lost{}
	for _, n := range nodes {
		f.lost[n] = disks[n].LoseUnsynced()
	}
	var errs []error
	for _, t := range f.targets {
		errs = append(errs, sig.Signal(t.Instance, t.Incarnation, syscall.SIGKILL))
	}
	// Thawing a killed incarnation is nothing; it removes the freeze's
	// journal entry.
	errs = append(errs, fr.Thaw(ctx, f.freezeID(env)))
	f.frozen = false
	return errors.Join(errs...)
}

// Verify implements Fault: every node is gone, and what each lost.
func (f *PowerLoss) Verify(ctx context.Context, env *Env) (string, error) {
	sig, err := platform.As[platform.Signals](env.Platform, "power loss")
	if err != nil {
		return "", err
	}
	deadline := time.Now().Add(15 * time.Second)
	var ev []string
	for _, t := range f.targets {
		if err := waitGone(ctx, sig, t.Instance, t.Incarnation, time.Until(deadline)); err != nil {
			return "", fmt.Errorf("after the power loss: %w", err)
		}
		l := f.lost[t.Instance]
		ev = append(ev, fmt.Sprintf("%s (%d KiB unsynced in %d files thrown away)", t.Instance, l.Bytes/1024, l.Files))
	}
	return "power lost: " + strings.Join(ev, ", "), nil
}

// Recover implements Fault: the nodes are ready again. A failed Inject
// may have left them frozen: they are thawed first.
func (f *PowerLoss) Recover(ctx context.Context, env *Env) error {
	var errs []error
	if f.frozen {
		if fr, err := platform.As[platform.Freezer](env.Platform, "power loss"); err == nil {
			errs = append(errs, fr.Thaw(ctx, f.freezeID(env)))
		}
		f.frozen = false
	}
	names := make([]string, len(f.targets))
	for i, t := range f.targets {
		names[i] = t.Instance
	}
	if err := waitReady(ctx, env, names, 90*time.Second); err != nil {
		return errors.Join(append(errs, fmt.Errorf("store nodes not back after the power loss: %w", err))...)
	}
	errs = append(errs, env.Journal.Remove(env.ID))
	return errors.Join(errs...)
}

// SelfHealing reports that the power comes back by itself: recovery time
// counts from the loss.
func (f *PowerLoss) SelfHealing() bool { return true }

// Lost returns what each node's disk threw away, after Inject.
func (f *PowerLoss) Lost() map[string]faultfs.Lost { return f.lost }
