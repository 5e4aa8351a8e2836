package kind

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStoreNodesOnMachinesOfTheirOwn: with one control plane and two
// workers, the third store node goes to the control plane (which the node
// faults never fail), not back to a worker; with enough workers the
// control plane carries none; with too few machines they share in turn.
func TestStoreNodesOnMachinesOfTheirOwn(t *testing.T) {
	cp := "k-control-plane"
	hosts, err := storeHosts([]string{cp, "k-worker", "k-worker2"}, cp, 3)
	require.NoError(t, err)
	assert.Equal(t, []string{"k-worker", "k-worker2", cp}, hosts)

	hosts, err = storeHosts([]string{cp, "k-worker", "k-worker2", "k-worker3"}, cp, 3)
	require.NoError(t, err)
	assert.Equal(t, []string{"k-worker", "k-worker2", "k-worker3"}, hosts)

	hosts, err = storeHosts([]string{cp, "k-worker"}, cp, 3)
	require.NoError(t, err)
	assert.Equal(t, []string{"k-worker", cp, "k-worker"}, hosts)

	_, err = storeHosts([]string{cp}, cp, 3)
	assert.Error(t, err, "a cluster with no worker")
}
