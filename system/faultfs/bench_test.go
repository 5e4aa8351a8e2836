package faultfs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkAppendFsync appends a 512-byte record and fsyncs it, as a store
// that syncs every write does: on the backing filesystem directly, and
// through the fault filesystem.
func BenchmarkAppendFsync(b *testing.B) {
	for _, through := range []string{"direct", "faultfs"} {
		b.Run(through, func(b *testing.B) {
			dir := b.TempDir()
			if through == "faultfs" {
				dir = mount(b).Mountpoint
			}
			f, err := os.OpenFile(filepath.Join(dir, "log"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
			require.NoError(b, err)
			defer f.Close()
			rec := make([]byte, 512)
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				if _, err := f.Write(rec); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppend appends 512-byte records with no fsync (held in memory
// by the fault filesystem until one).
func BenchmarkAppend(b *testing.B) {
	for _, through := range []string{"direct", "faultfs"} {
		b.Run(through, func(b *testing.B) {
			dir := b.TempDir()
			if through == "faultfs" {
				dir = mount(b).Mountpoint
			}
			f, err := os.OpenFile(filepath.Join(dir, "log"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
			require.NoError(b, err)
			defer f.Close()
			rec := make([]byte, 512)
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				if _, err := f.Write(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
