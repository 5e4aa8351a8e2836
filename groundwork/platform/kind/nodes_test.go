package kind

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/platform"
)

// TestNodeEntryRoundTrips: what a crashed run's reap reads back from a
// node fault's journal entry is what the fault wrote.
func TestNodeEntryRoundTrips(t *testing.T) {
	node, how, ip, err := parseNodeEntry(nodeEntry("faultline-worker2", platform.NodePartitioned, "172.18.0.3"))
	require.NoError(t, err)
	assert.Equal(t, "faultline-worker2", node)
	assert.Equal(t, platform.NodePartitioned, how)
	assert.Equal(t, "172.18.0.3", ip)

	for _, bad := range []string{"", "worker", "worker/lost", "/lost/172.18.0.3", "a/b/c/d"} {
		_, _, _, err := parseNodeEntry(bad)
		assert.Error(t, err, "%q", bad)
	}
}
