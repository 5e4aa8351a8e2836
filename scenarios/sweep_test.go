package scenarios

import (
	"testing"

	"github.com/faultline/faultline/harness"
)

// TestSweep is the blast-radius sweep (harness.Sweep): every kind of fault
// on every service of the mesh description in turn, each feature's effect
// graded, the tier contracts held over the whole matrix, and each
// feature's measured critical path set against the declared one in the
// report. FAULTLINE_SWEEP_TARGETS and FAULTLINE_SWEEP_FAULTS narrow it
// (`faultline sweep -targets ... -faults ...`).
func TestSweep(t *testing.T) {
	harness.RunSweep(t, harness.Sweep{})
}
