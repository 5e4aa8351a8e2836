package scratchimage_test

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/kind/scratchimage"
)

// TestSameFilesSameImage: an image is reproducible (the same files give
// the same digest, whatever their order or modification times), holds
// each file, link and parent folder, and runs with PATH set.
func TestSameFilesSameImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bank")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755))
	files := []scratchimage.File{{Dst: "/usr/local/bin/bank", Src: bin, Mode: 0o755}, {Dst: "/usr/bin/b", Link: "../local/bin/bank"}}
	build := func(fs []scratchimage.File) v1.Image {
		l, err := scratchimage.Layer(fs)
		require.NoError(t, err)
		img, err := scratchimage.Image(l, v1.Config{Entrypoint: []string{"/usr/local/bin/bank"}, User: "65532"})
		require.NoError(t, err)
		return img
	}
	a := build(files)
	later := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(bin, later, later))
	b := build([]scratchimage.File{files[1], files[0]})
	da, err := a.Digest()
	require.NoError(t, err)
	db, err := b.Digest()
	require.NoError(t, err)
	assert.Equal(t, da, db)

	ls, err := a.Layers()
	require.NoError(t, err)
	require.Len(t, ls, 1)
	rc, err := ls[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	got := map[string]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got[h.Name] = h.Typeflag
	}
	assert.Equal(t, map[string]byte{"usr/": tar.TypeDir, "usr/bin/": tar.TypeDir, "usr/local/": tar.TypeDir, "usr/local/bin/": tar.TypeDir,
		"usr/local/bin/bank": tar.TypeReg, "usr/bin/b": tar.TypeSymlink}, got)
	cf, err := a.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "linux", cf.OS)
	assert.Equal(t, scratchimage.Path, cf.Config.Env[0])
	assert.Equal(t, "65532", cf.Config.User)
}
