package scenarios

import (
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/check"
)

func TestEachStoreNodeKilledInTurn(t *testing.T) {
	var steps []harness.Step
	for i := range 3 {
		steps = append(steps, harness.Step{At: time.Duration(i) * 9 * time.Second, For: 6 * time.Second, Fault: faults.KillStoreNode(i)})
	}
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: SIGKILL store node 0, then (after it is back) node 1, then node 2.
Every bucket and stream is replicated three ways.
Expect: no acknowledged write is lost (the audit and the history agree); card
authorisations keep being answered through each leader election, declining
cleanly ("issuer unavailable") rather than hanging.`,
		Faults: steps,
		Hold:   []string{"card-auth"},
		HoldSLO: map[string]check.SLO{
			"card-auth": {MinSuccess: 0.90, P99: 1500 * time.Millisecond, MinOps: 5},
		},
	})
}
