package scenarios

import (
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/harness"
)

func TestCardProcessingReplicaKilled(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Steady state: every journey at its default rate.
Fault: SIGKILL one card-processing replica; the platform restarts it after a second.
Expect: card authorisations keep being answered (retries go to the other replica),
every journey recovers within 10s, no money is lost.`,
		Faults: []harness.Step{{At: 0, For: 8 * time.Second, Fault: &faults.Kill{Target: faults.One("card-processing")}}},
		Hold:   []string{"card-auth"},
	})
}
