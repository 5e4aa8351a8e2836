package faultfs

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// file is an open file of the mount: reads and writes go through its
// node's held content; the faults set on the disk act here.
type file struct {
	n    *node
	f    *os.File // the backing file
	sync bool     // opened O_SYNC or O_DSYNC: every write is flushed
}

var (
	_ fs.FileReader    = (*file)(nil)
	_ fs.FileWriter    = (*file)(nil)
	_ fs.FileWritever  = (*file)(nil)
	_ fs.FileFsyncer   = (*file)(nil)
	_ fs.FileFlusher   = (*file)(nil)
	_ fs.FileReleaser  = (*file)(nil)
	_ fs.FileGetattrer = (*file)(nil)
)

func newFile(n *node, f *os.File, flags uint32) *file {
	return &file{n: n, f: f, sync: flags&(syscall.O_SYNC|syscall.O_DSYNC) != 0}
}

func (h *file) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	if h.n.c == nil {
		k, err := h.f.ReadAt(dest, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fs.ToErrno(err)
		}
		return fuse.ReadResultData(dest[:k]), 0
	}
	k, err := h.n.c.read(h.n.fd, dest, off)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return fuse.ReadResultData(dest[:k]), 0
}

func (h *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if errno := h.n.disk.before(ctx, opWrite); errno != 0 {
		return 0, errno
	}
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	if errno := h.n.hold(h.f); errno != 0 {
		return 0, errno
	}
	if err := h.n.c.write(h.n.fd, data, off); err != nil {
		return 0, fs.ToErrno(err)
	}
	if h.sync {
		if errno := h.n.flush(); errno != 0 {
			return 0, errno
		}
	}
	return uint32(len(data)), 0
}

func (h *file) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	var all []byte
	for _, d := range data {
		all = append(all, d...)
	}
	return h.Write(ctx, all, off)
}

// Fsync puts the file's held writes on disk, unless a fault fails it:
// then they stay held.
func (h *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if errno := h.n.disk.before(ctx, opSync); errno != 0 {
		return errno
	}
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	errno := h.n.flush()
	if errno == 0 {
		h.n.disk.synced()
	}
	return errno
}

// Flush is a close: it syncs nothing, as close(2) does not.
func (h *file) Flush(context.Context) syscall.Errno { return 0 }

func (h *file) Release(context.Context) syscall.Errno {
	return fs.ToErrno(h.f.Close())
}

func (h *file) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(h.f.Fd()), &st); err != nil {
		return fs.ToErrno(err)
	}
	out.FromStat(&st)
	if sz, held := h.n.size(); held {
		out.Size = uint64(sz)
	}
	return 0
}
