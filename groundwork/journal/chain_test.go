package journal

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestChainNamesAreOursAndShort: a run's chain fits iptables' 28
// characters and is recognised as ours; no other chain is, so a reap
// never removes a chain it did not make.
func TestChainNamesAreOursAndShort(t *testing.T) {
	c := ChainName("20261205-084858-7db2")
	assert.LessOrEqual(t, len(c), 28)
	assert.True(t, IsOurChain(c))
	assert.NotEqual(t, c, ChainName("20261205-084858-7db3"))
	for _, other := range []string{"OUTPUT", "DOCKER-USER", "FL-", "FL-xyz", "FL-0123456789abX", "KUBE-SERVICES", ""} {
		assert.False(t, IsOurChain(other), other)
	}
	assert.Error(t, RemoveChain("DOCKER-USER"))
}
