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

// Disk makes the selected store nodes' disks slow, failing or full for the
// fault's window, through the fault filesystem under their data
// (platform.Disks): every write or fsync waits, or fails with the error a
// real disk gives. Recover heals the disks and waits until the nodes are
// ready again; what they do about the errors meanwhile is theirs.
type Disk struct {
	Target Selector // store nodes
	Faults faultfs.Faults

	hit   []string // the nodes, sorted
	disks map[string]platform.Disk
	base  map[string]faultfs.Stats // each disk's counts when the fault went in
}

// SlowDisk delays every write by write and every fsync by sync on the
// selected store nodes' disks.
func SlowDisk(s Selector, write, sync time.Duration) *Disk {
	return &Disk{Target: s, Faults: faultfs.Faults{WriteLatency: write, SyncLatency: sync}}
}

// FailingDisk fails every write and fsync with EIO on the selected store
// nodes' disks, as a dying disk does.
func FailingDisk(s Selector) *Disk {
	return &Disk{Target: s, Faults: faultfs.Faults{WriteErr: syscall.EIO, SyncErr: syscall.EIO}}
}

// FullDisk fails every write with ENOSPC on the selected store nodes'
// disks, as a full disk does; fsyncs of what was written before succeed.
func FullDisk(s Selector) *Disk {
	return &Disk{Target: s, Faults: faultfs.Faults{WriteErr: syscall.ENOSPC}}
}

// Name implements Fault.
func (f *Disk) Name() string { return describeDisk(f.Faults) + " on " + f.Target.String() }

func describeDisk(d faultfs.Faults) string {
	var parts []string
	if d.WriteLatency > 0 {
		parts = append(parts, fmt.Sprintf("writes +%v", d.WriteLatency))
	}
	if d.SyncLatency > 0 {
		parts = append(parts, fmt.Sprintf("fsyncs +%v", d.SyncLatency))
	}
	if d.WriteErr != 0 {
		parts = append(parts, "writes fail "+errnoName(d.WriteErr))
	}
	if d.SyncErr != 0 {
		parts = append(parts, "fsyncs fail "+errnoName(d.SyncErr))
	}
	if len(parts) == 0 {
		return "healthy disk"
	}
	return "disk: " + strings.Join(parts, ", ")
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EIO:
		return "EIO"
	case syscall.ENOSPC:
		return "ENOSPC"
	}
	return e.Error()
}

// Services implements Targeted.
func (f *Disk) Services() []string { return []string{topology.Store} }

// Validate implements Fault.
func (f *Disk) Validate() error {
	if err := f.Target.Validate(); err != nil {
		return err
	}
	if f.Target.service() != topology.Store {
		return fmt.Errorf("disk faults act on store nodes, not %s", f.Target)
	}
	if f.Faults == (faultfs.Faults{}) {
		return errors.New("disk fault: no latency or error set")
	}
	if f.Faults.WriteLatency < 0 || f.Faults.SyncLatency < 0 {
		return errors.New("disk fault: negative latency")
	}
	return nil
}

// Inject implements Fault.
func (f *Disk) Inject(ctx context.Context, env *Env) error {
	disks, err := storeDisks(env, f.Target, "disk faults")
	if err != nil {
		return err
	}
	f.disks, f.hit = disks, slices.Sorted(maps.Keys(disks))
	// The disks are served by the harness: a run that dies takes its
	// faults with it. The entry says what was injected.
	if err := env.Journal.Write(journal.Entry{Kind: "disk", ID: env.ID, Target: strings.Join(f.hit, ",")}); err != nil {
		return err
	}
	f.base = map[string]faultfs.Stats{}
	for n, d := range disks {
		f.base[n] = d.Stats()
		d.Set(f.Faults)
	}
	return nil
}

// Report implements Reporter: how many writes and fsyncs each disk
// delayed or failed over the window; none at all is no effect.
func (f *Disk) Report(ctx context.Context, env *Env) (string, error) {
	var ev []string
	var total int64
	for _, n := range f.hit {
		s, b := f.disks[n].Stats(), f.base[n]
		delayed, failed := s.Delayed-b.Delayed, s.Failed-b.Failed
		total += delayed + failed
		ev = append(ev, fmt.Sprintf("%s %d delayed, %d failed", n, delayed, failed))
	}
	if total == 0 && len(f.hit) > 0 {
		return "", fmt.Errorf("%w: no write or fsync reached the faulty disks", ErrNoEffect)
	}
	return strings.Join(ev, "; "), nil
}

// Verify implements Fault: the faults are on every selected disk.
func (f *Disk) Verify(ctx context.Context, env *Env) (string, error) {
	var ev []string
	for _, n := range f.hit {
		d := f.disks[n]
		if d.Faults() != f.Faults {
			return "", fmt.Errorf("%s's disk has %s, not %s", n, describeDisk(d.Faults()), describeDisk(f.Faults))
		}
		s, b := d.Stats(), f.base[n]
		ev = append(ev, fmt.Sprintf("%s (%d delayed, %d failed so far)", n, s.Delayed-b.Delayed, s.Failed-b.Failed))
	}
	return describeDisk(f.Faults) + " on " + strings.Join(ev, ", "), nil
}

// Recover implements Fault: the disks are healthy again, and so are the
// nodes within a minute (ready: every stream current). A node that keeps
// its streams stopped after its disk came back (NATS does, after a
// critical write error) fails the recovery: the store did not heal.
func (f *Disk) Recover(ctx context.Context, env *Env) error {
	for _, d := range f.disks {
		d.Set(faultfs.Faults{})
	}
	if err := waitHealthy(ctx, env, f.hit, time.Minute); err != nil {
		return fmt.Errorf("a minute after their disks recovered: %w", err)
	}
	return env.Journal.Remove(env.ID)
}

// waitHealthy waits until every instance says it is healthy now
// (platform.Health), or limit passes; the error says who was not, and why.
func waitHealthy(ctx context.Context, env *Env, insts []string, limit time.Duration) error {
	h, ok := env.Platform.(platform.Health)
	if !ok {
		return waitReady(ctx, env, insts, limit)
	}
	var last error
	err := until(ctx, time.Now().Add(limit), 500*time.Millisecond, func() (bool, error) {
		var errs []error
		for _, in := range insts {
			errs = append(errs, h.Healthy(ctx, in))
		}
		last = errors.Join(errs...)
		return last == nil, nil
	})
	if errors.Is(err, errDeadline) {
		return fmt.Errorf("not healthy: %w", last)
	}
	return err
}

// storeDisks returns the disk of each selected store node.
func storeDisks(env *Env, s Selector, what string) (map[string]platform.Disk, error) {
	ds, err := platform.As[platform.Disks](env.Platform, what)
	if err != nil {
		return nil, err
	}
	insts, err := s.Pick(env)
	if err != nil {
		return nil, err
	}
	out := map[string]platform.Disk{}
	for _, in := range insts {
		d, err := ds.Disk(in.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out[in.Name] = d
	}
	return out, nil
}
