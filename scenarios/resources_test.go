package scenarios

import (
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/system/store"
)

// Resource limits, as a container runtime enforces a pod's
// resources.limits: a memory limit past which the kernel's OOM killer
// kills the instance (and again after each restart: a crash loop), and a
// CPU quota that throttles an instance for the rest of each 100 ms period
// once it has used its share.

func TestCardProcessingReplicaOOMKilled(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: one card-processing replica is held to a memory limit of 64 KiB of new
memory for 15s: the kernel's OOM killer kills it as soon as it allocates, and again
each time it is started (a container whose limit is far too low, in a crash loop).
Expect: callers' breakers and retries send authorisations to the other replica:
card authorisations hold; the replica serves again once the limit is lifted.`,
		Faults: []harness.Step{{At: 0, For: 15 * time.Second, Fault: faults.OOMKill(faults.One("card-processing"))}},
		Hold:   []string{"card-auth"},
	})
}

func TestStoreNodeOOMKilled(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: store node 1 is held to a memory limit of 64 KiB of new memory for 15s:
the kernel's OOM killer kills it as soon as it allocates, and again each time it is
started, so the node is gone for the whole window, restarting every second.
Known limit (TestEachStoreNodeKilledInTurn, issue 13): the streams it led are
unwritable until NATS elects new leaders (4-9s).
Expect: no acknowledged write is lost (the audit and the history agree), the
replicas agree once it is back, the network has its answer within 3s at p99, and
every journey is back within 15s of the limit being lifted.`,
		Faults:      []harness.Step{{At: 0, For: 15 * time.Second, Fault: faults.OOMKill(faults.Instance("store-1"))}},
		Hold:        []string{"card-auth"},
		Checks:      []harness.Check{harness.ReplicasAgree(store.LedgerStream)},
		HoldSLO:     map[string]check.SLO{"card-auth": {MinSuccess: 0.1, P99: 3 * time.Second, MinOps: 5}},
		MaxRecovery: 15 * time.Second,
		Unscaled:    true, // elections take their own time
		After:       20 * time.Second,
	})
}

func TestCardProcessingCPULimited(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: both card-processing replicas are held to a CPU limit of 20m (CFS quota:
2ms of CPU in each 100ms period) for 15s, about what each uses on average at the
default load (21m measured), as a limit set from a dashboard's average is: once a
replica has used its 2ms in a period it waits for the next one, so bursts queue.
(At 100m neither replica was ever throttled: the fault then reports that it had no
effect and the scenario is unknown.)
Expect: authorisations queue behind the throttled replicas and slow down, but the
network has its answer within its deadline and money stays right.`,
		Faults: []harness.Step{{At: 0, For: 15 * time.Second, Fault: &faults.CPULimit{Target: faults.All("card-processing"), Cores: 0.02}}},
		Hold:   []string{"card-auth"},
	})
}
