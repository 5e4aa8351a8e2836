package faults_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/platform"
)

// nodesPlatform is fakePlatform with one node, "worker-a", that svc-0 runs
// on; it records the failures asked of it and undone.
type nodesPlatform struct {
	*fakePlatform
	failed map[string]platform.NodeFailure
}

func (n *nodesPlatform) NodeOf(instance string) (string, bool) {
	return "worker-a", instance == "svc-0"
}

func (n *nodesPlatform) FailNode(_ context.Context, id, node string, how platform.NodeFailure) (platform.Applied, error) {
	n.failed[node] = how
	return &nodeApplied{n: n, node: node}, nil
}

type nodeApplied struct {
	n    *nodesPlatform
	node string
}

func (a *nodeApplied) Verify(context.Context) (string, error) {
	how, ok := a.n.failed[a.node]
	if !ok {
		return "", fmt.Errorf("%s is up", a.node)
	}
	return fmt.Sprintf("node %s %s", a.node, how), nil
}

func (a *nodeApplied) Undo(context.Context) error { delete(a.n.failed, a.node); return nil }

// TestNodeFailureFailsTheNodeOfTheChosenInstance: the node the selected
// instance runs on fails as asked, Verify says so, Recover brings it back.
func TestNodeFailureFailsTheNodeOfTheChosenInstance(t *testing.T) {
	p := &nodesPlatform{fakePlatform: newFake(), failed: map[string]platform.NodeFailure{}}
	env := newEnv(t, p, "node-1")
	f := faults.NodePartitioned(faults.Instance("svc-0"))
	require.NoError(t, f.Validate())

	require.NoError(t, f.Inject(context.Background(), env))
	assert.Equal(t, map[string]platform.NodeFailure{"worker-a": platform.NodePartitioned}, p.failed)
	ev, err := f.Verify(context.Background(), env)
	require.NoError(t, err)
	assert.Equal(t, "node worker-a partitioned", ev)

	require.NoError(t, f.Recover(context.Background(), env))
	assert.Empty(t, p.failed)
	require.NoError(t, f.Recover(context.Background(), env), "recover is idempotent")
}

func TestNodeFailureValidates(t *testing.T) {
	assert.Error(t, (&faults.NodeFailure{Target: faults.Instance("card-api-0"), How: "melted"}).Validate())
	assert.Error(t, faults.NodeLost(faults.Selector{Service: "card-api", Count: 2}).Validate(), "one instance chooses one node")
	assert.NoError(t, faults.NodeLost(faults.One("card-api")).Validate())
	assert.NoError(t, faults.NodeFrozen(faults.Instance("store-1")).Validate())
}

// podsPlatform is fakePlatform whose svc-0 runs in a pod that a delete
// replaces by a new one (a new UID) at once.
type podsPlatform struct {
	*fakePlatform
	uid     string
	deleted []string
}

func (p *podsPlatform) PodOf(string) (string, bool, bool) { return p.uid, false, true }

func (p *podsPlatform) DeletePod(_ context.Context, instance, uid string, _ time.Duration) error {
	if uid != p.uid {
		return fmt.Errorf("pod %s is not %s", instance, uid)
	}
	p.deleted = append(p.deleted, instance+"/"+uid)
	p.uid += "'"
	return nil
}

// TestPodDeleteDeletesTheChosenPodAndWaitsForItsReplacement: the pod
// deleted is the one that was current; Verify and Recover see the new one.
func TestPodDeleteDeletesTheChosenPodAndWaitsForItsReplacement(t *testing.T) {
	p := &podsPlatform{fakePlatform: newFake(), uid: "u1"}
	env := newEnv(t, p, "pod-1")
	f := &faults.PodDelete{Target: faults.Instance("svc-0")}
	require.NoError(t, f.Validate())

	require.NoError(t, f.Inject(context.Background(), env))
	assert.Equal(t, []string{"svc-0/u1"}, p.deleted)
	ev, err := f.Verify(context.Background(), env)
	require.NoError(t, err)
	assert.Contains(t, ev, "svc-0")
	require.NoError(t, f.Recover(context.Background(), env))

	assert.Error(t, (&faults.PodDelete{Target: faults.Instance("svc-0"), Grace: -time.Second}).Validate())
}
