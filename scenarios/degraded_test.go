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
		Runbook: `Steady state, then card authorisations ramp from 30/s to 45/s over the scenario.
(The bank's knee with the whole suite's load on this 2-core machine is near 60/s:
at the end of a ramp to 60/s the card p50 was 28 ms, 60 ms, 100 ms and, once, a
collapse to "91" answers with no other work and no steal recorded; at 100/s 4% of
the CPU taken by other work tipped it into a collapse it did not climb out of:
see docs/PERFORMANCE.md, "Headroom".)
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
		RampTo:  map[string]float64{"card-auth": 45},
		Hold:    []string{"card-auth", "payments"},
		HoldSLO: map[string]check.SLO{"payments": {MinSuccess: 0.98, P99: time.Second, MinOps: 5}},
		Checks: []harness.Check{
			harness.GracefulDrain("graceful-drain", "payments"),
			harness.FailsWhileFaulted("feed-cut", "feed", 1),
		},
	})
}
