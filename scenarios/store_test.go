package scenarios

import (
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/system/store"
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
		Checks: []harness.Check{harness.ReplicasAgree(store.LedgerStream)},
		HoldSLO: map[string]check.SLO{
			"card-auth": {MinSuccess: 0.1, P99: 3 * time.Second, MinOps: 5},
		},
		MaxRecovery: 15 * time.Second,
		Unscaled:    true, // each kill must come after the last election
		After:       20 * time.Second,
	})
}

// partitionHold is what the card path must do while a store node is cut off
// from its peers: answer in time, money right. How many authorisations
// succeed depends on which node each service's store connection went to
// (0-100% measured, docs/BANK.md), so success is not held here; the goal of
// 99% through the partition of any store node is issue 13's.
var partitionHold = map[string]check.SLO{"card-auth": {MinSuccess: 0, P99: 3 * time.Second, MinOps: 5}}

func TestStoreNodePartitionedFromItsPeers(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: store-1 is cut off from store-0 and store-2 for 15s on the store's own
network (its replication): every packet between them is dropped, both ways, on every
connection (iptables; on a host where the harness cannot, the links the routes then go
through are cut), connections stay open and new ones time out, as in a network
partition. The bank's services keep their connections to all three nodes.
Known limits (docs/BANK.md): the streams store-1 led get new leaders on the majority
side only after NATS's 4-9s election timeout; store-1 goes on believing it leads for
a further 10s or so, and a service whose store connection is to store-1 stays
connected to it (its connection is healthy) while nothing it writes can commit: how
many authorisations succeed during the cut depends on which services are connected
to store-1 (0-100% measured); and on the heal store-1's higher raft term makes every
stream's leader step down (NATS's raft has no pre-vote): with the routes through the
harness's links no authorisation succeeded for 6-7s after the heal (11.5s in one CI
run), so the after window starts 15s after the heal, when the recovery allowed ends;
with the routes direct, card authorisations were back 0.2-0.6s after it (2 runs).
Expect: no acknowledged write is lost, not even one store-1 took while cut off (the
audit and the history agree); the network has its answer within 3s at p99; every
journey is back within 15s of the heal.`,
		Faults:      []harness.Step{{At: 0, For: 15 * time.Second, Fault: faults.IsolateStoreNode(1)}},
		Hold:        []string{"card-auth"},
		Checks:      []harness.Check{harness.ReplicasAgree(store.LedgerStream)},
		HoldSLO:     partitionHold,
		MaxRecovery: 15 * time.Second,
		Unscaled:    true,             // elections take their own time
		After:       30 * time.Second, // judged from 15s after the heal: MaxRecovery
	})
}

func TestLedgerLeaderPartitionedFromItsPeers(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: the store node that leads the ledger (LEDGER) when the fault starts, as
the store itself says, is cut off from the other two for 15s on the store's own
network, as in TestStoreNodePartitionedFromItsPeers; the bank's services keep their
connections to it.
The ledger is the bank's record of money: the old leader goes on believing it leads
while the majority elects another, and takes writes it cannot commit.
Known limits: as TestStoreNodePartitionedFromItsPeers (docs/BANK.md); no
authorisation succeeded for the whole cut in 3 of 5 runs through the links, 20-22% in
2 runs with the routes direct.
Expect: no acknowledged write is lost, not even one the old leader took while cut off
(the audit and the history agree); the network has its answer within 3s at p99; every
journey is back within 15s of the heal.`,
		Faults:      []harness.Step{{At: 0, For: 15 * time.Second, Fault: faults.IsolateStoreLeader(store.LedgerStream)}},
		Hold:        []string{"card-auth"},
		Checks:      []harness.Check{harness.ReplicasAgree(store.LedgerStream)},
		HoldSLO:     partitionHold,
		MaxRecovery: 15 * time.Second,
		Unscaled:    true,
		After:       30 * time.Second, // judged from 15s after the heal: MaxRecovery
	})
}

func TestStoreBridgePartition(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: store-0 and store-2 are cut off from each other for 15s on the store's own
network, while store-1 still reaches both (Jepsen's bridge): each of store-0 and store-2
still sees a majority (itself and store-1), and store-1 is in both. A leader on
store-0 or store-2 keeps its majority through store-1; a follower on the far side
stops hearing it and may call an election that store-1 can grant.
Expect: no acknowledged write is lost (the audit and the history agree); the replicas
agree once it heals; the network has its answer within 3s at p99; every journey is
back within 15s of the heal.`,
		Faults:      []harness.Step{{At: 0, For: 15 * time.Second, Fault: faults.BridgeStore(0, 2)}},
		Hold:        []string{"card-auth"},
		Checks:      []harness.Check{harness.ReplicasAgree(store.LedgerStream)},
		HoldSLO:     partitionHold,
		MaxRecovery: 15 * time.Second,
		Unscaled:    true,
		After:       30 * time.Second, // judged from 15s after the heal: MaxRecovery
	})
}
