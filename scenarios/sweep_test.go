package scenarios

import (
	"os"
	"testing"

	"github.com/faultline/faultline/harness"
)

// shortSweepTargets are the services the suite's -short pass sweeps: one
// on the card path (tier 0, two replicas), one tier 3 service the card
// path must not need, one deferred worker. `faultline sweep -short`
// sweeps every service with -short's windows.
var shortSweepTargets = []string{"card-processing", "merchant", "notifications"}

// TestSweep is the blast-radius sweep (harness.Sweep): every kind of fault
// on every service of the mesh description in turn, each feature's effect
// graded, the tier contracts held over the whole matrix, and each
// feature's measured critical path set against the declared one in the
// report. FAULTLINE_SWEEP_TARGETS and FAULTLINE_SWEEP_FAULTS narrow it
// (`faultline sweep -targets ... -faults ...`). With -short, and unless
// run by `faultline sweep` (FAULTLINE_SWEEP=on), it sweeps only
// shortSweepTargets.
func TestSweep(t *testing.T) {
	sw := harness.Sweep{}
	if testing.Short() && os.Getenv("FAULTLINE_SWEEP") != "on" && os.Getenv("FAULTLINE_SWEEP_TARGETS") == "" {
		sw.Targets = shortSweepTargets
		t.Logf("-short: sweeping %v only (faultline sweep -short sweeps every service)", shortSweepTargets)
	}
	harness.RunSweep(t, sw)
}
