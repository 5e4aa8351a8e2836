package faults

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCatalogueBuildsEveryFault: each fault of the catalogue builds and
// validates on each kind of target it says it takes, with the default
// settings, and names its target in its name.
func TestCatalogueBuildsEveryFault(t *testing.T) {
	samples := map[string][]string{
		"service or instance": {"card-processing", "card-processing-1"},
		"service":             {"card-processing"},
		"store node":          {"store-1"},
	}
	for _, e := range Catalogue {
		targets, ok := samples[e.Target]
		require.True(t, ok, "%s: unknown target kind %q", e.Name, e.Target)
		for _, target := range targets {
			f, err := FromCatalogue(e.Name, target, DefaultParams)
			if assert.NoError(t, err, "%s %s", e.Name, target) {
				assert.Contains(t, f.Name(), strings.TrimSuffix(target, "-1"), "%s %s", e.Name, target)
			}
		}
	}
}

// TestCatalogueRefusesBadInput: an unknown fault names the catalogue; a
// target that is not in the mesh description, or the wrong kind of
// target, is refused before anything is injected.
func TestCatalogueRefusesBadInput(t *testing.T) {
	_, err := FromCatalogue("explode", "card-processing", DefaultParams)
	assert.ErrorContains(t, err, `no fault "explode" in the catalogue; it has`)
	for _, c := range [][2]string{
		{"kill", "nope"}, {"kill", "nope-0"}, {"kill-one", "card-processing-0"},
		{"store-isolate", "card-processing"}, {"store-isolate", "store-7"}, {"disk-full", "store"},
		{"latency", "nope"}, {"partition", ""}, {"rollout", "nope"},
	} {
		_, err := FromCatalogue(c[0], c[1], DefaultParams)
		assert.Error(t, err, "%s %q", c[0], c[1])
	}
	p := DefaultParams
	p.Rate = 1.5
	_, err = FromCatalogue("errors", "cards", p)
	assert.Error(t, err, "a share of 150%")
}
