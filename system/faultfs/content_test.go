package faultfs

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memFile is a backing file in memory, for the content model's logic.
type memFile struct {
	data []byte
}

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.data)) {
		return 0, nil
	}
	return copy(p, m.data[off:]), nil
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.data)) {
		m.data = append(m.data, make([]byte, end-int64(len(m.data)))...)
	}
	return copy(m.data[off:], p), nil
}

func (m *memFile) Truncate(size int64) error {
	if size <= int64(len(m.data)) {
		m.data = m.data[:size]
	} else {
		m.data = append(m.data, make([]byte, size-int64(len(m.data)))...)
	}
	return nil
}

func readAll(t *testing.T, c *content, b backing) []byte {
	t.Helper()
	p := make([]byte, c.size+100)
	n, err := c.read(b, p, 0)
	require.NoError(t, err)
	return p[:n]
}

func TestHeldWritesAreReadButNotOnTheBackingFile(t *testing.T) {
	b := &memFile{data: []byte("durable")}
	c := newContent(int64(len(b.data)))
	require.NoError(t, c.write(b, []byte("-held across a page boundary"), 7))
	big := bytes.Repeat([]byte{'x'}, 2*pageSize+10)
	require.NoError(t, c.write(b, big, 40))
	want := append([]byte("durable-held across a page boundary"), make([]byte, 40-35)...)
	want = append(want, big...)
	assert.Equal(t, want, readAll(t, c, b), "reads see the held writes")
	assert.Equal(t, "durable", string(b.data), "nothing reached the backing file")
	assert.Equal(t, int64(3*pageSize), c.held(), "pages 0-2 held")

	require.NoError(t, c.flush(b))
	assert.Equal(t, want, b.data, "a flush puts the file on the backing file")
	assert.Zero(t, c.held())
}

func TestAnUnsyncedTruncationReadsAsZerosThenFlushes(t *testing.T) {
	b := &memFile{data: bytes.Repeat([]byte{'a'}, pageSize+100)}
	c := newContent(int64(len(b.data)))
	c.truncate(10)
	assert.Equal(t, bytes.Repeat([]byte{'a'}, 10), readAll(t, c, b))
	c.truncate(20) // grows again: the cut bytes must not come back
	assert.Equal(t, append(bytes.Repeat([]byte{'a'}, 10), make([]byte, 10)...), readAll(t, c, b))
	assert.Len(t, b.data, pageSize+100, "the backing file is untouched until a flush")
	require.NoError(t, c.write(b, []byte("z"), 15))
	require.NoError(t, c.flush(b))
	want := append(bytes.Repeat([]byte{'a'}, 10), make([]byte, 10)...)
	want[15] = 'z'
	assert.Equal(t, want, b.data)
}

func TestATruncationInsideAHeldPageClearsItsTail(t *testing.T) {
	b := &memFile{}
	c := newContent(0)
	require.NoError(t, c.write(b, []byte("0123456789"), 0))
	c.truncate(4)
	c.truncate(10)
	assert.Equal(t, append([]byte("0123"), make([]byte, 6)...), readAll(t, c, b))
}
