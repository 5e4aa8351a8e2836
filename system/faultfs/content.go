package faultfs

import (
	"errors"
	"io"
)

// pageSize is the unit in which unsynced writes are held.
const pageSize = 4096

// backing is the part of the backing file that content needs: *os.File.
type backing interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
}

// content is one file's data as the processes above the mount see it:
// the backing file, overlaid with the writes and truncations made since
// the last fsync, which are held here as a kernel's page cache holds them.
// A flush (fsync) puts them on the backing file; a power loss (drop)
// throws them away, and the file is what the backing file holds.
//
// The backing file stands for the disk itself: what reaches it is durable
// in the model. It is not fsynced on the host, whose power never goes in a
// test: a real fsync there would make every fsync above the mount as slow
// as the host's disk and model nothing more.
type content struct {
	size    int64            // the file's size as seen above the mount
	durable int64            // bytes of the backing file still the file's: beyond, a truncation not yet synced, read as zeros
	base    int64            // the backing file's size
	pages   map[int64][]byte // pages written since the last flush, by index; each pageSize long
}

// newContent starts holding writes for a file whose backing file has size
// bytes.
func newContent(size int64) *content {
	return &content{size: size, durable: size, base: size, pages: map[int64][]byte{}}
}

// held is the number of bytes waiting for a flush.
func (c *content) held() int64 { return int64(len(c.pages)) * pageSize }

// page returns page i for writing, read from the backing file the first
// time it is written.
func (c *content) page(b backing, i int64) ([]byte, error) {
	if p, ok := c.pages[i]; ok {
		return p, nil
	}
	p := make([]byte, pageSize)
	if err := c.readBacking(b, p, i*pageSize); err != nil {
		return nil, err
	}
	c.pages[i] = p
	return p, nil
}

// readBacking fills p with the backing file's bytes at off, zeros beyond
// what is durable or written.
func (c *content) readBacking(b backing, p []byte, off int64) error {
	clear(p)
	n := min(int64(len(p)), c.durable-off)
	if n <= 0 {
		return nil
	}
	if _, err := b.ReadAt(p[:n], off); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// write holds data at off.
func (c *content) write(b backing, data []byte, off int64) error {
	for done := 0; done < len(data); {
		at := off + int64(done)
		p, err := c.page(b, at/pageSize)
		if err != nil {
			return err
		}
		done += copy(p[at%pageSize:], data[done:])
	}
	c.size = max(c.size, off+int64(len(data)))
	return nil
}

// read fills p from off, as the file is now; it returns how many bytes
// the file has there.
func (c *content) read(b backing, p []byte, off int64) (int, error) {
	n := int(max(0, min(int64(len(p)), c.size-off)))
	for done := 0; done < n; {
		at := off + int64(done)
		i, in := at/pageSize, at%pageSize
		chunk := min(n-done, int(pageSize-in))
		if pg, ok := c.pages[i]; ok {
			copy(p[done:done+chunk], pg[in:])
		} else if err := c.readBacking(b, p[done:done+chunk], at); err != nil {
			return done, err
		}
		done += chunk
	}
	return n, nil
}

// truncate sets the file's size: pages beyond it go, the part of the last
// page beyond it reads as zeros, and so does the backing file beyond it
// until the next flush makes the truncation durable.
func (c *content) truncate(size int64) {
	if size < c.size {
		for i, p := range c.pages {
			switch start := i * pageSize; {
			case start >= size:
				delete(c.pages, i)
			case start+pageSize > size:
				clear(p[size-start:])
			}
		}
		c.durable = min(c.durable, size)
	}
	c.size = size
}

// flush puts the held writes and truncations on the backing file. On
// failure the writes stay held.
func (c *content) flush(b backing) error {
	if c.durable < c.base {
		if err := b.Truncate(c.durable); err != nil {
			return err
		}
		c.base = c.durable
	}
	for i, p := range c.pages {
		n := min(pageSize, c.size-i*pageSize)
		if _, err := b.WriteAt(p[:n], i*pageSize); err != nil {
			return err
		}
		c.base = max(c.base, i*pageSize+n)
	}
	if c.base != c.size {
		if err := b.Truncate(c.size); err != nil {
			return err
		}
		c.base = c.size
	}
	clear(c.pages)
	c.durable = c.size
	return nil
}
