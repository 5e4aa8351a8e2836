package topology_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/topology"
)

func TestTopologyIsValid(t *testing.T) {
	require.NoError(t, topology.Validate())
}

func TestStartOrderPutsCalleesFirst(t *testing.T) {
	pos := map[string]int{}
	for i, s := range topology.StartOrder() {
		pos[s.Name] = i
	}
	require.Len(t, pos, len(topology.Services))
	for _, s := range topology.Services {
		for _, c := range s.Calls {
			if c != topology.Store {
				assert.Less(t, pos[c], pos[s.Name], "%s calls %s", s.Name, c)
			}
		}
	}
}

func TestCriticalServicesHaveTwoReplicas(t *testing.T) {
	for _, s := range topology.Services {
		if s.Tier <= 1 {
			assert.GreaterOrEqual(t, s.Replicas, 2, "%s is tier %d", s.Name, s.Tier)
		}
	}
}

func TestEveryFeatureHasAPath(t *testing.T) {
	for _, f := range topology.Features {
		assert.NotEmpty(t, topology.ServicesOf(f.Name), f.Name)
	}
	assert.Contains(t, topology.FeaturesOf("balance"), "card-auth")
}
