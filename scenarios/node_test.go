package scenarios

import (
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/harness"
)

// Whole machines failing, with every instance on them. Only platforms with
// nodes run these (kind, kube); on the local platform they skip.

// nodeHold is what the card path must do while a node carrying a store node
// is gone: the store elects new leaders for that node's streams after 4-9 s,
// as when a store node is killed (TestEachStoreNodeKilledInTurn).
var nodeHold = map[string]check.SLO{"card-auth": {MinSuccess: 0.1, P99: 3 * time.Second, MinOps: 5}}

func TestWorkerNodeLost(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: the worker that runs store-1 dies for 20s (on kind, its node container
is killed: every process on it gone at once, its connections left hanging, no
goodbye to anyone), then boots again and its kubelet restarts its pods.
On kind's two workers that node carries store-1 and one replica of each replicated
service (topology spread); the other carries the other two store nodes, so the
store keeps its quorum. Known limit: NATS elects new leaders for the streams
store-1 led after 4-9 s, as when a store node is killed.
Expect: no acknowledged write is lost (the audit and the history agree); the card
path keeps answering through the replicas on the other worker (at least one
authorisation in ten succeeds, the network has its answer within 3s at p99); every
journey is back within 60s of the node's boot.`,
		Needs:       []harness.Need{harness.NeedNodes},
		Faults:      []harness.Step{{At: 0, For: 20 * time.Second, Fault: faults.NodeLost(faults.Instance("store-1"))}},
		Hold:        []string{"card-auth"},
		HoldSLO:     nodeHold,
		MaxRecovery: 60 * time.Second,
		Unscaled:    true, // elections and a node's boot take their own time
		After:       60 * time.Second,
	})
}

func TestWorkerNodePartitioned(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: the worker that runs store-1 drops off the cluster's network for 20s
(on kind, its node container disconnected from the kind network) and keeps
running: its instances see no peer and no peer sees them; then it is connected
again with its address.
On kind's two workers the other worker keeps two of the three store nodes, so the
majority side is the one the card network reaches. Known limit: NATS elects new
leaders for the streams store-1 led after 4-9 s.
Expect: no acknowledged write is lost, not even one taken by the cut-off side
(the audit and the history agree); the card path keeps answering through the
majority side (at least one authorisation in ten succeeds, the network has its
answer within 3s at p99); every journey is back within 60s of the reconnection.`,
		Needs:       []harness.Need{harness.NeedNodes},
		Faults:      []harness.Step{{At: 0, For: 20 * time.Second, Fault: faults.NodePartitioned(faults.Instance("store-1"))}},
		Hold:        []string{"card-auth"},
		HoldSLO:     nodeHold,
		MaxRecovery: 60 * time.Second,
		Unscaled:    true,
		After:       60 * time.Second,
	})
}

func TestCardProcessingPodDeleted(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: card-processing-0's pod is deleted, as a node drain or an eviction does it:
SIGTERM, its 2 s pre-stop wait and drain within the 15 s grace period, then a new pod
of the same name from nothing (new address, its sidecar's links made again).
Unlike a kill in place (TestCardProcessingReplicaKilled), callers must find the new
pod at a new address.
Expect: card authorisations hold through card-processing-1 (at 98% success, p99
within 1s); the new pod is ready and serving within 60s.`,
		Needs:       []harness.Need{harness.NeedPods},
		Faults:      []harness.Step{{At: 0, For: 10 * time.Second, Fault: &faults.PodDelete{Target: faults.Instance("card-processing-0")}}},
		Hold:        []string{"card-auth"},
		MaxRecovery: 60 * time.Second,
	})
}
