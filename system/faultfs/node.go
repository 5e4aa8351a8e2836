package faultfs

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is a file or directory of the mount: the loopback node, with the
// file's unsynced content held here rather than on the backing file.
type node struct {
	fs.LoopbackNode
	disk *Disk

	mu sync.Mutex
	c  *content // nil when nothing is held
	fd *os.File // the backing file, while c is held
}

var (
	_ fs.NodeOpener    = (*node)(nil)
	_ fs.NodeCreater   = (*node)(nil)
	_ fs.NodeGetattrer = (*node)(nil)
	_ fs.NodeSetattrer = (*node)(nil)
	_ fs.NodeLookuper  = (*node)(nil)
	_ fs.NodeRenamer   = (*node)(nil)
	_ fs.NodeStatxer   = (*node)(nil)
)

// backingPath is the node's path in the backing directory.
func (n *node) backingPath() string {
	return filepath.Join(n.RootData.Path, n.Path(n.Root()))
}

// hold starts holding the node's writes, with its own descriptor of the
// backing file. n.mu is held.
func (n *node) hold(f *os.File) syscall.Errno {
	if n.c != nil {
		return 0
	}
	st, err := f.Stat()
	if err != nil {
		return fs.ToErrno(err)
	}
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return fs.ToErrno(err)
	}
	n.c, n.fd = newContent(st.Size()), os.NewFile(uintptr(fd), f.Name())
	n.disk.dirty(n, true)
	return 0
}

// release forgets the held content. n.mu is held.
func (n *node) release() {
	if n.c == nil {
		return
	}
	_ = n.fd.Close()
	n.c, n.fd = nil, nil
	n.disk.dirty(n, false)
}

// flush puts the held writes on the backing file. n.mu is held.
func (n *node) flush() syscall.Errno {
	if n.c == nil {
		return 0
	}
	if err := n.c.flush(n.fd); err != nil {
		return fs.ToErrno(err)
	}
	n.release()
	return 0
}

// lose throws the held writes away, as a power loss does, and returns how
// many bytes were held.
func (n *node) lose() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.c == nil {
		return 0
	}
	held := n.c.held()
	n.release()
	return held
}

// size is the file's size above the mount, when it differs from the
// backing file's.
func (n *node) size() (int64, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.c == nil {
		return 0, false
	}
	return n.c.size, true
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ch, errno := n.LoopbackNode.Lookup(ctx, name, out)
	if errno == 0 {
		if c, ok := ch.Operations().(*node); ok {
			if sz, held := c.size(); held {
				out.Attr.Size = uint64(sz)
			}
		}
	}
	return ch, errno
}

func (n *node) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if errno := n.LoopbackNode.Getattr(ctx, nil, out); errno != 0 {
		return errno
	}
	if sz, held := n.size(); held {
		out.Size = uint64(sz)
	}
	return 0
}

// Statx is left to Getattr, which knows the held size: the kernel falls
// back to it on ENOSYS.
func (n *node) Statx(context.Context, fs.FileHandle, uint32, uint32, *fuse.StatxOut) syscall.Errno {
	return syscall.ENOSYS
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if sz, ok := in.GetSize(); ok {
		if errno := n.truncate(f, int64(sz)); errno != 0 {
			return errno
		}
		in.Valid &^= fuse.FATTR_SIZE
	}
	if errno := n.LoopbackNode.Setattr(ctx, nil, in, out); errno != 0 {
		return errno
	}
	if sz, held := n.size(); held {
		out.Size = uint64(sz)
	}
	return 0
}

// truncate holds a change of size like a write.
func (n *node) truncate(f fs.FileHandle, size int64) syscall.Errno {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.c == nil {
		h, ok := f.(*file)
		var bf *os.File
		if ok {
			bf = h.f
		} else {
			var err error
			if bf, err = os.OpenFile(n.backingPath(), os.O_RDWR, 0); err != nil {
				return fs.ToErrno(err)
			}
			defer bf.Close()
		}
		if errno := n.hold(bf); errno != 0 {
			return errno
		}
	}
	n.c.truncate(size)
	return 0
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	f, errno := n.openBacking(n.backingPath(), flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return newFile(n, f, flags), fuse.FOPEN_DIRECT_IO, 0
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ch, fh, _, errno := n.LoopbackNode.Create(ctx, name, n.backingFlags(flags), mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	// The loopback's handle is re-opened as ours, on the same file (the
	// new node is not in the tree yet: it has no path of its own).
	if r, ok := fh.(fs.FileReleaser); ok {
		defer r.Release(ctx)
	}
	c := ch.Operations().(*node)
	f, errno := c.openBacking(filepath.Join(n.backingPath(), name), flags&^(syscall.O_CREAT|syscall.O_EXCL|syscall.O_TRUNC))
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return ch, newFile(c, f, flags), fuse.FOPEN_DIRECT_IO, 0
}

// backingFlags are the flags to open the backing file with: always for
// reading and writing (a write of part of a page reads the rest), never
// synchronous (the handle syncs what it writes itself), never appending
// (the kernel gives every write its offset).
func (n *node) backingFlags(flags uint32) uint32 {
	flags &^= syscall.O_ACCMODE | syscall.O_APPEND | syscall.O_SYNC | syscall.O_DSYNC | syscall.O_DIRECT | fuse.FMODE_EXEC
	return flags | syscall.O_RDWR
}

// openBacking opens n's backing file, at path. A truncating open is
// durable at once, like a create: whatever was held for the file goes
// with it.
func (n *node) openBacking(path string, flags uint32) (*os.File, syscall.Errno) {
	if flags&syscall.O_TRUNC != 0 {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.release()
	}
	f, err := os.OpenFile(path, int(n.backingFlags(flags)), 0)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return f, 0
}

// Rename puts the renamed file's held writes on disk first, as ext4 does
// when a file replaces another (auto_da_alloc), so that write-then-rename
// survives a power loss as it does there.
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if ch := n.GetChild(name); ch != nil {
		if c, ok := ch.Operations().(*node); ok {
			c.mu.Lock()
			errno := c.flush()
			c.mu.Unlock()
			if errno != 0 {
				return errno
			}
		}
	}
	return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
}

// Tmpfile and CopyFileRange would go around the held content.
func (n *node) Tmpfile(context.Context, uint32, uint32, *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EOPNOTSUPP
}

func (n *node) CopyFileRange(context.Context, fs.FileHandle, uint64, *fs.Inode, fs.FileHandle, uint64, uint64, uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}
