package deploy_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/deploy"
	"github.com/faultline/faultline/system/topology"
)

// TestManifestsAreCurrent fails when bank.yaml is not what the topology
// renders; regenerate with: go run ./system/cmd/bank manifests > system/deploy/bank.yaml
func TestManifestsAreCurrent(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, deploy.Write(&b, deploy.Options{}))
	committed, err := os.ReadFile("bank.yaml")
	require.NoError(t, err)
	assert.Equal(t, string(committed), b.String(), "bank.yaml is stale: go run ./system/cmd/bank manifests > system/deploy/bank.yaml")
	for _, s := range topology.Services {
		assert.Contains(t, b.String(), "name: "+s.Name+"\n")
	}
	assert.Equal(t, 1+2+2*len(topology.Services), strings.Count(b.String(), "\nkind: ")+strings.Count(b.String()[:20], "kind: "))
}
