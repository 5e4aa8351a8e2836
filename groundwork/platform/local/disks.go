package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/faultfs"
)

var _ platform.Disks = (*Platform)(nil)

// FaultFSEnv turns the fault filesystem under the store nodes on when set
// to "on". It is off by default: every store write then pays a FUSE round
// trip through the harness, and the scenarios that need it damage the
// store of the bank every scenario shares (docs/BANK.md). Off, the nodes
// write to plain directories and disk faults are unsupported.
const FaultFSEnv = "FAULTLINE_FAULTFS"

// faultFSFullLoadCores is how many cores the local bank on the fault
// filesystem needs for the default load. Every write of every store node
// is then a round trip through the harness's process (about 1,000 a second
// a node at 25 card authorisations a second), which on 2 cores roughly
// halves what the bank carries: card authorisations' p99 went from 27 to
// 51 ms at 25/s and from 37 to 134 ms at 50/s (`faultline bench`,
// docs/PERFORMANCE.md), and the suite's disk scenarios at the default load
// missed their objectives before any fault.
const faultFSFullLoadCores = 4

// loadShare scales the default load to this machine's cores when the fault
// filesystem is on, up to all of it from faultFSFullLoadCores; without it
// the local bank carries the default load.
func loadShare() (float64, string) {
	n := runtime.NumCPU()
	if os.Getenv(FaultFSEnv) != "on" || n >= faultFSFullLoadCores {
		return 1, ""
	}
	return float64(n) / faultFSFullLoadCores, fmt.Sprintf("the local bank on the fault filesystem (%s=on: every store write crosses the harness) on %d cores carries %d/%d of the default load (FAULTLINE_RATE overrides)",
		FaultFSEnv, n, n, faultFSFullLoadCores)
}

// disks are the fault filesystems under the store nodes' data, served by
// the harness itself: each node's data directory is a mount of a backing
// directory beside it (RunDir/store/store-0 over RunDir/store/store-0.disk).
// A node starts on its mount and stops before it is unmounted.
type disks struct {
	mu   sync.Mutex
	by   map[string]*faultfs.Disk
	none error // why there are none
}

// dataDir returns the directory node keeps its data in: its disk's mount,
// mounted here and journaled first, or a plain directory when there can
// be no disk (d.none says why).
func (p *Platform) dataDir(node string) (string, error) {
	dir := filepath.Join(p.opts.RunDir, "store", node)
	d := &p.disks
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.by == nil {
		d.by = map[string]*faultfs.Disk{}
		switch {
		case os.Getenv(FaultFSEnv) != "on":
			d.none = fmt.Errorf("the fault filesystem is off (%s=on turns it on)", FaultFSEnv)
		default:
			d.none = faultfs.Available()
		}
	}
	if d.none != nil {
		return dir, nil
	}
	if err := p.journal.Write(journal.Entry{Kind: journal.KindMount, ID: "mount-" + node, Target: node, Mount: dir}); err != nil {
		return "", err
	}
	disk, err := faultfs.Mount(dir+".disk", dir)
	if err != nil {
		_ = p.journal.Remove("mount-" + node)
		return "", err
	}
	d.by[node] = disk
	return dir, nil
}

// Disk implements platform.Disks.
func (p *Platform) Disk(instance string) (platform.Disk, error) {
	d := &p.disks
	d.mu.Lock()
	defer d.mu.Unlock()
	if disk, ok := d.by[instance]; ok {
		return disk, nil
	}
	if d.none != nil {
		return nil, fmt.Errorf("%s's disk: %w: %w", instance, d.none, platform.ErrUnsupported)
	}
	return nil, fmt.Errorf("%s has no fault filesystem (only store nodes do): %w", instance, platform.ErrUnsupported)
}

// unmountDisks unmounts every disk, once the store nodes have stopped.
func (p *Platform) unmountDisks() error {
	d := &p.disks
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for node, disk := range d.by {
		if err := disk.Unmount(); err != nil {
			errs = append(errs, fmt.Errorf("%s's disk: %w", node, err))
			continue
		}
		errs = append(errs, p.journal.Remove("mount-"+node))
		delete(d.by, node)
	}
	return errors.Join(errs...)
}
