package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecipeChangesWithConfigAndImage: a kept cluster is reused only if
// kind-config.yaml's content and the node image are what made it.
func TestRecipeChangesWithConfigAndImage(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "kind-config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("kind: Cluster\n"), 0o600))
	a, err := recipeOf(cfg, "faultline/kind-node:v1")
	require.NoError(t, err)
	again, err := recipeOf(cfg, "faultline/kind-node:v1")
	require.NoError(t, err)
	assert.Equal(t, a, again)
	other, err := recipeOf(cfg, "faultline/kind-node:v2")
	require.NoError(t, err)
	assert.NotEqual(t, a, other, "another node image")
	require.NoError(t, os.WriteFile(cfg, []byte("kind: Cluster\nnodes: []\n"), 0o600))
	edited, err := recipeOf(cfg, "faultline/kind-node:v1")
	require.NoError(t, err)
	assert.NotEqual(t, a, edited, "an edited configuration")
	_, err = recipeOf(filepath.Join(t.TempDir(), "missing.yaml"), "x")
	assert.Error(t, err)
}
