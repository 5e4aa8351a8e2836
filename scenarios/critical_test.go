package scenarios

import (
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/system/mesh"
)

// Instance faults on the critical paths: replicas killed, paused, restarted.

func TestCardProcessingReplicaKilled(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Steady state: every journey at its default rate.
Fault: SIGKILL one card-processing replica; the platform restarts it after a second.
Expect: card authorisations keep being answered (retries go to the other replica),
every journey recovers within 10s, no money is lost.`,
		Faults: []harness.Step{{At: 0, For: 8 * time.Second, Fault: &faults.Kill{Target: faults.One("card-processing")}}},
		Hold:   []string{"card-auth"},
		Checks: []harness.Check{
			harness.MetricRises("retried-elsewhere", "card-api", mesh.MetricRetries, map[string]string{"dep": "card-processing"}, 1,
				"card-api retried authorisations the killed replica did not answer"),
		},
	})
}

func TestOneReplicaOfEveryCriticalServiceKilled(t *testing.T) {
	var steps []harness.Step
	for _, s := range []string{"card-api", "card-processing", "cards", "balance", "transactions", "edge", "payments", "accounts"} {
		steps = append(steps, harness.Step{At: 0, For: 8 * time.Second, Fault: &faults.Kill{Target: faults.One(s)}})
	}
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: at the same moment, SIGKILL one replica of every tier 0-1 service.
Guard, as on a game day: should card authorisations fall under 50% success over
any 3s while the faults are on, every fault is recovered at once.
Expect: the surviving replicas carry card payments, payments and balance reads;
acknowledged authorisations are never lost or applied twice; the audit is clean;
the guard never fires.`,
		Faults: steps,
		Hold:   []string{"card-auth", "payments", "balance"},
		Abort:  &harness.Abort{Journey: "card-auth", MinSuccess: 0.5, Over: 3 * time.Second},
	})
}

func TestLedgerInstancePaused(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: freeze one transactions (ledger) replica with SIGSTOP for 8s: its
connections stay open and nothing answers, like a stalled VM.
Expect: balance's calls to it time out on a per-try budget and retry on the other
replica; the breaker ejects it; card authorisations stay within the network's
deadline; no authorisation is applied twice when it wakes up.`,
		Faults: []harness.Step{{At: 0, For: 8 * time.Second, Fault: &faults.Pause{Target: faults.One("transactions")}}},
		Hold:   []string{"card-auth", "balance"},
		Checks: []harness.Check{
			harness.MetricRises("per-try-retry", "balance", mesh.MetricRetries, map[string]string{"dep": "transactions"}, 1,
				"balance retried ledger calls whose try timed out on the frozen replica"),
			harness.Ejections("ejected", "transactions", 1, "balance"),
		},
	})
}

func TestRollingRestartOfCriticalServices(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: roll the card path's services (card-api, card-processing, cards,
balance, transactions), one instance at a time, as a deployment would: on
Kubernetes each StatefulSet's rolling update (pod deleted, drained, replaced,
ready), elsewhere SIGTERM, drain, restart, wait until ready.
Expect: graceful shutdown drains in-flight requests and readiness keeps traffic
away from starting instances: card payments, payments and balance reads hold.`,
		Faults: []harness.Step{{At: 0, For: 20 * time.Second, Fault: faults.Rollout("card-api", "card-processing", "cards",
			"balance", "transactions")}},
		Hold:   []string{"card-auth", "payments", "balance"},
		Checks: []harness.Check{harness.GracefulDrain("graceful-drain", "card-api", "card-processing", "cards", "balance", "transactions")},
	})
}

func TestFlappingBalanceInstance(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: kill one balance replica again every time it comes back (every 1.5s at
most) for 10s, so it keeps joining and leaving.
Expect: failure detection ejects it each time; card authorisations hold; the
money is right when it stops.`,
		Faults: []harness.Step{{At: 0, For: 10 * time.Second, Fault: &faults.Flap{Target: faults.One("balance"), Every: 1500 * time.Millisecond}}},
		Hold:   []string{"card-auth"},
		Checks: []harness.Check{harness.Ejections("ejected", "balance", 1, "card-processing", "payments")},
	})
}
