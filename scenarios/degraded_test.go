package scenarios

import (
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/harness"
)

// Degraded links and a gentle stop, under rising load.

func TestDegradedLinksUnderRisingLoad(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Steady state, then card authorisations ramp from 30/s to 60/s over the scenario.
(At 100/s the whole suite's load keeps this 2-core machine 90-95% busy, and 4% of
the CPU taken by other work tipped the card path into a collapse it did not climb
out of after the faults: see docs/PERFORMANCE.md, "Headroom".)
Faults, for 10s: balance's answers to its callers squeezed to 64 KB/s; connections
to cards close slowly (200 ms); the feed's answers to edge are cut after 1 KB; one
payments replica is stopped gracefully (SIGTERM, drain, restart).
Expect: card authorisations hold under the higher rate; payments hold through the
graceful stop; the feed fails while its answers are cut and recovers after.`,
		Faults: []harness.Step{
			{At: 0, For: 10 * time.Second, Fault: faults.Bandwidth("", "balance", 64)},
			{At: 0, For: 10 * time.Second, Fault: faults.SlowClose("", "cards", 200*time.Millisecond)},
			{At: 0, For: 10 * time.Second, Fault: faults.LimitData("edge", "feed", 1024)},
			{At: 2 * time.Second, For: 6 * time.Second, Fault: faults.GracefulStop(faults.One("payments"))},
		},
		RampTo:  map[string]float64{"card-auth": 60},
		Hold:    []string{"card-auth", "payments"},
		HoldSLO: map[string]check.SLO{"payments": {MinSuccess: 0.98, P99: time.Second, MinOps: 5}},
		Checks: []harness.Check{
			harness.GracefulDrain("graceful-drain", "payments"),
			harness.FailsWhileFaulted("feed-cut", "feed", 1),
		},
	})
}
