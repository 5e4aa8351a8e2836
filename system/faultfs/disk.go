package faultfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Faults is what the disk does wrong now. The zero value is a healthy disk.
type Faults struct {
	WriteLatency time.Duration `json:"write_latency,omitempty"` // before each write
	SyncLatency  time.Duration `json:"sync_latency,omitempty"`  // before each fsync
	WriteErr     syscall.Errno `json:"write_err,omitempty"`     // returned by every write (EIO; ENOSPC for a full disk)
	SyncErr      syscall.Errno `json:"sync_err,omitempty"`      // returned by every fsync; the writes stay held
}

// Stats counts what the disk has done since it was mounted.
type Stats struct {
	Held    int64 `json:"held"`    // bytes written and not yet fsynced, now
	Files   int   `json:"files"`   // files with writes held, now
	Syncs   int64 `json:"syncs"`   // fsyncs that put writes on disk
	Failed  int64 `json:"failed"`  // writes and fsyncs a fault failed
	Delayed int64 `json:"delayed"` // writes and fsyncs a fault delayed
	Lost    int64 `json:"lost"`    // bytes thrown away by power losses
	Losses  int64 `json:"losses"`  // power losses
}

// Lost is what one power loss threw away.
type Lost struct {
	Bytes int64 `json:"bytes"`
	Files int   `json:"files"`
}

// Disk is one mounted fault filesystem.
type Disk struct {
	Backing, Mountpoint string

	server *fuse.Server
	faults atomic.Pointer[Faults]

	mu    sync.Mutex
	held  map[*node]struct{} // nodes holding writes
	stats Stats
}

// Available says whether this host can mount a fault filesystem, and if
// not, why.
func Available() error {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("fault filesystem unavailable: %w", err)
	}
	return f.Close()
}

// Mount mounts a fault filesystem of backing at mountpoint (both
// directories; created if missing). Unmount it when done. The filesystem
// is served by this process: if it dies, the mount answers ENOTCONN until
// it is detached (umount -l; the journal's reap does it).
func Mount(backing, mountpoint string) (*Disk, error) {
	for _, d := range []string{backing, mountpoint} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, err
	}
	d := &Disk{Backing: backing, Mountpoint: mountpoint, held: map[*node]struct{}{}}
	d.faults.Store(&Faults{})
	root := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, disk: d}
	}
	root.RootNode = root.NewNode(root, nil, "", &st)
	// Sizes change behind the kernel's back when the power goes: it must
	// ask for them every time (and every file is opened for direct I/O,
	// so it caches no pages). Names only change through the mount.
	zero, second := time.Duration(0), time.Second
	// go-fuse opens /dev/fuse without O_CLOEXEC. Every process started
	// after the mount (the store nodes above it) would hold the connection
	// open: when this process dies, a node exiting would then wait forever
	// for its last flush, which no one serves. No fork runs between the
	// open and closeOnExec (the lock os/exec takes to fork).
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	server, err := fs.Mount(mountpoint, root.RootNode, &fs.Options{
		AttrTimeout:  &zero,
		EntryTimeout: &second,
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true,
			FsName:            backing,
			Name:              "faultfs",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mount fault filesystem at %s: %w", mountpoint, err)
	}
	d.server = server
	if err := closeOnExec("/dev/fuse"); err != nil {
		_ = server.Unmount()
		return nil, fmt.Errorf("mount fault filesystem at %s: %w", mountpoint, err)
	}
	return d, nil
}

// closeOnExec marks every descriptor of this process open on device
// close-on-exec.
func closeOnExec(device string) error {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range fds {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err != nil || target != device {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
			return fmt.Errorf("close-on-exec %s (fd %d): %w", device, fd, err)
		}
	}
	return nil
}

// Set replaces the disk's faults; Set(Faults{}) heals it.
func (d *Disk) Set(f Faults) { d.faults.Store(&f) }

// Faults returns the disk's faults now.
func (d *Disk) Faults() Faults { return *d.faults.Load() }

// LoseUnsynced is a power loss: every write not yet fsynced is thrown
// away. Stop the processes above the mount first (SIGSTOP), and kill them
// after: a process that goes on writing would see its files change under
// it, which no machine that lost power does.
func (d *Disk) LoseUnsynced() Lost {
	nodes := d.heldNodes()
	var l Lost
	for _, n := range nodes {
		if b := n.lose(); b > 0 {
			l.Bytes += b
			l.Files++
		}
	}
	d.mu.Lock()
	d.stats.Lost += l.Bytes
	d.stats.Losses++
	d.mu.Unlock()
	return l
}

// Stats returns the disk's counters.
func (d *Disk) Stats() Stats {
	nodes := d.heldNodes()
	d.mu.Lock()
	s := d.stats
	d.mu.Unlock()
	for _, n := range nodes {
		n.mu.Lock()
		if n.c != nil {
			s.Held += n.c.held()
			s.Files++
		}
		n.mu.Unlock()
	}
	return s
}

// Unmount unmounts the disk. Held writes are put on disk first, as a
// clean shutdown does.
func (d *Disk) Unmount() error {
	nodes := d.heldNodes()
	var errs []error
	for _, n := range nodes {
		n.mu.Lock()
		if errno := n.flush(); errno != 0 {
			errs = append(errs, fmt.Errorf("flush %s: %w", n.backingPath(), errno))
		}
		n.mu.Unlock()
	}
	if err := d.server.Unmount(); err != nil {
		// Busy: detach it, so that it goes once its last user does.
		if derr := syscall.Unmount(d.Mountpoint, syscall.MNT_DETACH); derr != nil {
			errs = append(errs, err, derr)
		}
	}
	return errors.Join(errs...)
}

type op int

const (
	opWrite op = iota
	opSync
)

// before applies the faults to one write or fsync: it waits out the
// latency, then returns the error to fail it with, if any.
func (d *Disk) before(ctx context.Context, o op) syscall.Errno {
	f := d.faults.Load()
	delay, errno := f.WriteLatency, f.WriteErr
	if o == opSync {
		delay, errno = f.SyncLatency, f.SyncErr
	}
	if delay > 0 {
		d.count(func(s *Stats) { s.Delayed++ })
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return syscall.EINTR
		}
	}
	if errno != 0 {
		d.count(func(s *Stats) { s.Failed++ })
	}
	return errno
}

func (d *Disk) synced() { d.count(func(s *Stats) { s.Syncs++ }) }

func (d *Disk) count(f func(*Stats)) {
	d.mu.Lock()
	f(&d.stats)
	d.mu.Unlock()
}

// heldNodes returns the nodes holding writes now.
func (d *Disk) heldNodes() []*node {
	d.mu.Lock()
	defer d.mu.Unlock()
	nodes := make([]*node, 0, len(d.held))
	for n := range d.held {
		nodes = append(nodes, n)
	}
	return nodes
}

// dirty records whether n holds writes.
func (d *Disk) dirty(n *node, held bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if held {
		d.held[n] = struct{}{}
	} else {
		delete(d.held, n)
	}
}
