package scenarios

import (
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/harness"
)

// A contention workload in the manner of Jepsen's bank test: concurrent
// debits on a few accounts at their limit, while the services that decide
// and record them fail.

func TestContendedAccountsWhileBalanceAndLedgerFail(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Steady state: card authorisations all on four accounts that hold almost
nothing and may not go overdrawn; payments move money between them and top
them up, so that concurrent debits keep racing for the last pounds.
Fault: SIGKILL one balance replica (the one deciding debits), then freeze one
transactions (ledger) replica for 5s, so that retries, a restarted decider and a
stale writer that wakes up all race on the same accounts.
Expect: no account goes below its limit, no debit is lost or applied twice (the
ledger's chain of balances is unbroken), every approval is in the ledger exactly
once; card authorisations keep being answered within the network's deadline,
approved or declined (writes to one account are serialised, so under this much
contention many are declined "issuer unavailable").`,
		Contention: &load.Contention{Accounts: 4},
		// Writes to one account go one at a time (each append is conditional on
		// the account's last entry): about 10 a second on each of the four
		// accounts is what the ledger carries with a replica frozen.
		Load: map[string]float64{"card-auth": 25, "payments": 15},
		HoldSLO: map[string]check.SLO{
			"card-auth": {MinSuccess: 0, P99: 1500 * time.Millisecond, MinOps: 5},
		},
		Faults: []harness.Step{
			{At: 0, For: 6 * time.Second, Fault: &faults.Kill{Target: faults.One("balance")}},
			{At: 3 * time.Second, For: 5 * time.Second, Fault: &faults.Pause{Target: faults.One("transactions")}},
		},
		Hold: []string{"card-auth"},
	})
}
