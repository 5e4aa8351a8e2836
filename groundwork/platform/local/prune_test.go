package local

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPruneCacheKeepsTheMostRecentlyUsed: of six cached builds, the four
// used last stay (a reuse renews a build's time), the others go, and files
// the pattern does not name are left alone.
func TestPruneCacheKeepsTheMostRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	base := time.Now().Add(-time.Hour)
	for i, name := range []string{"bank-a", "bank-b", "bank-c", "bank-d", "bank-e", "bank-f", "bank-g.tmp", "kubeconfig"} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(name), 0o600))
		at := base.Add(time.Duration(i) * time.Minute)
		require.NoError(t, os.Chtimes(p, at, at))
	}
	// bank-a, the oldest build, was used again just now.
	require.NoError(t, os.Chtimes(filepath.Join(dir, "bank-a"), time.Now(), time.Now()))

	PruneCache(dir, "bank-*", 4)
	var left []string
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	assert.ElementsMatch(t, []string{"bank-a", "bank-d", "bank-e", "bank-f", "bank-g.tmp", "kubeconfig"}, left)
}
