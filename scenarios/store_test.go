package scenarios

import (
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/harness"
)

func TestEachStoreNodeKilledInTurn(t *testing.T) {
	var steps []harness.Step
	for i := range 3 {
		steps = append(steps, harness.Step{At: time.Duration(i) * 9 * time.Second, For: 6 * time.Second, Fault: faults.KillStoreNode(i)})
	}
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: SIGKILL store node 0, then (after it is back) node 1, then node 2.
Every bucket and stream is replicated three ways.
Known limit: NATS JetStream elects a new leader for each stream the dead node
led after a fixed 4-9s raft election timeout; until then writes to those streams
fail, so some authorisations are declined or go unanswered in each election.
How much is refused depends on which leaders each dead node held: across runs,
17-75% of authorisations succeeded over the three kills; card-api bounds its own
store calls, so one attempt takes at most about 1.6s; when card-api cannot even
queue a void it gives no answer, and the card network sends the message once
more, so the network waits up to about 2.5s for its answer.
Expect: no acknowledged write is lost (the audit and the history agree), the bank
keeps serving (at least one authorisation in ten succeeds, the network has its
answer within 3s at p99, its resend included), every journey is back within 15s
of each kill.`,
		Faults: steps,
		Hold:   []string{"card-auth"},
		HoldSLO: map[string]check.SLO{
			"card-auth": {MinSuccess: 0.1, P99: 3 * time.Second, MinOps: 5},
		},
		MaxRecovery: 15 * time.Second,
		Unscaled:    true, // each kill must come after the last election
		After:       20 * time.Second,
	})
}
