package scenarios

import (
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/system/store"
)

// nodeLostHold is what the card path must do while any one store node is
// lost (killed, paused, cut off from the other two), issue 13's goal: card
// authorisations answered with the right decision at least 99% of the time,
// within 1.5s at p99. The bank gets there by standing in (card-api decides
// alone and journals it on the nodes left: docs/BANK.md, "Stand-in"), not
// by NATS electing faster.
var nodeLostHold = map[string]check.SLO{"card-auth": {MinSuccess: 0.99, P99: 1500 * time.Millisecond, MinOps: 5}}

// nodeLostHeld are the journeys held while a store node is lost: card
// authorisations (nodeLostHold), and at the normal hold objective
// (harness.HoldSLO) the reads that answer from a service's copy of their
// bucket while the store elects leaders (docs/BANK.md): the balance
// (balance's copy of the projection) and merchant logos (merchant's copy
// of its bucket). Not yet held: payments (a payment's debit is a ledger
// append, which waits for the election) and the feed, which answers with
// the feed it last served a customer, so not for one it has not served
// yet (88% in the first kill of a fresh bank, 100% after).
var nodeLostHeld = []string{"card-auth", "balance", "merchant-logos"}

func TestEachStoreNodeKilledInTurn(t *testing.T) {
	var steps []harness.Step
	for i := range 3 {
		steps = append(steps, harness.Step{At: time.Duration(i) * 9 * time.Second, For: 6 * time.Second, Fault: faults.KillStoreNode(i)})
	}
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: SIGKILL store node 0, then (after it is back) node 1, then node 2.
Every bucket and stream is replicated three ways. NATS JetStream elects a new leader
for each stream the dead node led after a fixed 4-9s raft election timeout; until then
writes to those streams fail, and the card path uses five of them.
The bank rides through it by standing in: when card-processing gives no answer in
time, card-api decides alone from its copies of the cards and balances, within caps,
writes the answer to the stand-in journals on the two nodes left (single-replica
streams, one per node, which have no leader to elect) and answers; settlement posts
the approvals and voids the declines once the store is back (docs/BANK.md).
Expect: no acknowledged write is lost (the audit and the history agree); every
stand-in answer settled (an approval debited exactly once, a decline moving nothing);
at least 99% of authorisations answered with a decision, the network has its answer
within 1.5s at p99; balance and merchant-logo reads at their normal hold objective
(98%, 1s at p99), from balance's copy of the projection and merchant's copy of its
bucket while the store does not answer; every journey is back within 15s of each kill.`,
		Faults:      steps,
		Hold:        nodeLostHeld,
		Checks:      []harness.Check{harness.ReplicasAgree(store.LedgerStream)},
		HoldSLO:     nodeLostHold,
		MaxRecovery: 15 * time.Second,
		Unscaled:    true, // each kill must come after the last election
		After:       20 * time.Second,
	})
}

func TestStoreNodePaused(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: store-1 is stopped (SIGSTOP) for 15s, then resumed: its connections stay
open and say nothing, as a node whose host froze or whose process hangs. The streams it
led get new leaders after NATS's 4-9s election timeout; clients connected to it give up
on it after two missed pings a second apart.
The card path rides through it by standing in (TestEachStoreNodeKilledInTurn).
Expect: no acknowledged write is lost; every stand-in answer settled; at least 99% of
authorisations answered with a decision, within 1.5s at p99; balance and
merchant-logo reads at their normal hold objective; the replicas agree once it
resumes; every journey is back within 15s.`,
		Faults:      []harness.Step{{At: 0, For: 15 * time.Second, Fault: &faults.Pause{Target: faults.Instance("store-1")}}},
		Hold:        nodeLostHeld,
		Checks:      []harness.Check{harness.ReplicasAgree(store.LedgerStream)},
		HoldSLO:     nodeLostHold,
		MaxRecovery: 15 * time.Second,
		Unscaled:    true, // elections take their own time
		After:       30 * time.Second,
	})
}

// partitionHold is what the card path must do under the store faults that
// take more than one node's vote at a time (a bridge, a power loss, a slow
// disk with a pause): answer in time, money right.
var partitionHold = map[string]check.SLO{"card-auth": {MinSuccess: 0, P99: 3 * time.Second, MinOps: 5}}

func TestStoreNodePartitionedFromItsPeers(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: store-1 is cut off from store-0 and store-2 for 15s on the store's own
network (its replication): every packet between them is dropped, both ways, on every
connection (iptables; on a host where the harness cannot, the links the routes then go
through are cut), connections stay open and new ones time out, as in a network
partition. The bank's services keep their connections to all three nodes.
Known limits of the store (docs/BANK.md): the streams store-1 led get new leaders on
the majority side only after NATS's 4-9s election timeout; store-1 goes on believing it
leads for a further 10s or so, and a service whose store connection is to store-1 stays
connected to it (its connection is healthy) while nothing it writes can commit; on the
heal store-1's higher raft term makes every stream's leader step down (NATS's raft has
no pre-vote), so the after window starts 15s after the heal, when the recovery allowed
ends. The card path rides through all of it by standing in: card-api writes its answer
to the stand-in journal on each node over a connection of its own to each, and each
write is local to its node, so all three take it even while store-1 is cut off.
Expect: no acknowledged write is lost, not even one store-1 took while cut off (the
audit and the history agree); every stand-in answer settled; at least 99% of
authorisations answered with a decision, within 1.5s at p99; balance and
merchant-logo reads at their normal hold objective; every journey is back within
15s of the heal.`,
		Faults:      []harness.Step{{At: 0, For: 15 * time.Second, Fault: faults.IsolateStoreNode(1)}},
		Hold:        nodeLostHeld,
		Checks:      []harness.Check{harness.ReplicasAgree(store.LedgerStream)},
		HoldSLO:     nodeLostHold,
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
Known limits: as TestStoreNodePartitionedFromItsPeers (docs/BANK.md); without
stand-in, no authorisation succeeded for the whole cut in 3 of 5 runs through the
links, 20-22% in 2 runs with the routes direct.
Expect: no acknowledged write is lost, not even one the old leader took while cut off
(the audit and the history agree); every stand-in answer settled; at least 99% of
authorisations answered with a decision, within 1.5s at p99; balance and
merchant-logo reads at their normal hold objective; every journey is back within
15s of the heal.`,
		Faults:      []harness.Step{{At: 0, For: 15 * time.Second, Fault: faults.IsolateStoreLeader(store.LedgerStream)}},
		Hold:        nodeLostHeld,
		Checks:      []harness.Check{harness.ReplicasAgree(store.LedgerStream)},
		HoldSLO:     nodeLostHold,
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
