package local

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"time"

	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/topology"
)

var _ platform.Data = (*Platform)(nil)

// Offline implements platform.Data: the store node is killed and kept from
// starting while fn runs on its data directory (through its disk's mount,
// as the node sees it), then let go; the supervisor starts it again.
func (p *Platform) Offline(ctx context.Context, instance string, fn func(dir string) error) error {
	p.mu.Lock()
	pr, ok := p.procs[instance]
	p.mu.Unlock()
	if !ok || pr.Service != topology.Store {
		return fmt.Errorf("%s is not a store node: only store nodes have data to act on: %w", instance, platform.ErrUnsupported)
	}
	held := make(chan struct{})
	pr.mu.Lock()
	if pr.held != nil {
		pr.mu.Unlock()
		return fmt.Errorf("%s is already kept down", instance)
	}
	pr.held = held
	pr.mu.Unlock()
	defer func() {
		pr.mu.Lock()
		pr.held = nil
		pr.mu.Unlock()
		close(held)
	}()
	// Down once no process runs and none is being started: one started
	// just before the hold is killed in its turn.
	err := platform.WaitUntil(ctx, 20*time.Millisecond, instance+" still running", func() bool {
		pr.mu.Lock()
		defer pr.mu.Unlock()
		if pr.process != nil {
			_ = pr.process.Signal(syscall.SIGKILL)
		}
		return pr.pid == 0 && !pr.starting
	})
	if err != nil {
		return err
	}
	return fn(filepath.Join(p.opts.RunDir, "store", instance))
}
