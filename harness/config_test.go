package harness

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestAtLoadScalesWithTheSuitesLoad: a rate written for the default load
// follows FAULTLINE_RATE, rounded up, never under 1.
func TestAtLoadScalesWithTheSuitesLoad(t *testing.T) {
	t.Setenv("FAULTLINE_PLATFORM", "local")
	for rate, want := range map[string]int{"1": 15, "0.25": 4, "0.5": 8, "0.01": 1, "2": 30} {
		t.Setenv("FAULTLINE_RATE", rate)
		assert.Equal(t, want, AtLoad(15), "FAULTLINE_RATE=%s", rate)
	}
	t.Setenv("FAULTLINE_RATE", "nonsense")
	assert.Equal(t, 15, AtLoad(15), "a configuration that does not load leaves the rate as written")
}
