package scenarios

import (
	"os"
	"testing"

	"github.com/faultline/faultline/harness"
)

// TestSweep is the blast-radius sweep (harness.Sweep): every kind of fault
// on every service of the mesh description in turn, each feature's effect
// graded, the tier contracts held over the whole matrix, and each
// feature's measured critical path set against the declared one in the
// report. FAULTLINE_SWEEP_TARGETS and FAULTLINE_SWEEP_FAULTS narrow it
// (`faultline sweep -targets ... -faults ...`).
//
// It runs on its own (`faultline sweep`, or FAULTLINE_SWEEP=on), not with
// the rest of the suite: it takes 16 minutes, and its wait for deferred
// work reads a backlog that can be stale (docs/SWEEP.md, "Not yet in the
// suite").
func TestSweep(t *testing.T) {
	if os.Getenv("FAULTLINE_SWEEP") != "on" {
		t.Skip("the blast-radius sweep runs on its own: faultline sweep, or FAULTLINE_SWEEP=on go test ./scenarios -run '^TestSweep$' (docs/SWEEP.md)")
	}
	harness.RunSweep(t, harness.Sweep{})
}
