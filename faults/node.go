package faults

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/groundwork/platform"
)

// NodeFailure fails the whole node (machine) that the selected instance
// runs on, with every instance on it (platform.Nodes): on kind, the node's
// container is killed, frozen or cut off the cluster's network. Recover
// brings the node back: started again, thawed, or reconnected with its
// address; the pods on it then restart or resume as they would after a
// real machine's reboot or a healed partition.
//
// The local platform has no nodes (every instance shares this machine):
// there the fault is unsupported, and scenarios built on it skip.
type NodeFailure struct {
	Target Selector // the node of the one instance it picks fails
	How    platform.NodeFailure

	node    string
	applied platform.Applied
}

// NodeLost kills the node the selected instance runs on, as a machine that
// loses power.
func NodeLost(t Selector) *NodeFailure { return &NodeFailure{Target: t, How: platform.NodeLost} }

// NodeFrozen freezes the node the selected instance runs on.
func NodeFrozen(t Selector) *NodeFailure { return &NodeFailure{Target: t, How: platform.NodeFrozen} }

// NodePartitioned cuts the node the selected instance runs on off the
// cluster's network.
func NodePartitioned(t Selector) *NodeFailure {
	return &NodeFailure{Target: t, How: platform.NodePartitioned}
}

// Name implements Fault.
func (f *NodeFailure) Name() string { return fmt.Sprintf("node of %s %s", f.Target, f.How) }

// Services implements Targeted: the service whose instance chose the node
// (the others on it are named in the fault's evidence).
func (f *NodeFailure) Services() []string { return []string{f.Target.service()} }

// Validate implements Fault.
func (f *NodeFailure) Validate() error {
	switch f.How {
	case platform.NodeLost, platform.NodeFrozen, platform.NodePartitioned:
	default:
		return fmt.Errorf("node failure %q: want %s, %s or %s", f.How, platform.NodeLost, platform.NodeFrozen, platform.NodePartitioned)
	}
	if f.Target.Count > 1 || f.Target.Percent > 0 {
		return fmt.Errorf("node failure: select one instance (its node fails), not %s", f.Target)
	}
	return f.Target.Validate()
}

// Inject implements Fault.
func (f *NodeFailure) Inject(ctx context.Context, env *Env) error {
	nodes, err := platform.As[platform.Nodes](env.Platform, "node failure")
	if err != nil {
		return err
	}
	t := f.Target
	if t.Instance == "" && t.Count == 0 {
		t.Count = 1
	}
	insts, err := t.Pick(env)
	if err != nil {
		return err
	}
	if len(insts) == 0 {
		return fmt.Errorf("node failure: %s picked no instance", f.Target)
	}
	node, ok := nodes.NodeOf(insts[0].Name)
	if !ok {
		return fmt.Errorf("node failure: %s is on no node", insts[0].Name)
	}
	f.node = node
	f.applied, err = nodes.FailNode(ctx, env.ID, node, f.How)
	return err
}

// Verify implements Fault.
func (f *NodeFailure) Verify(ctx context.Context, env *Env) (string, error) {
	if f.applied == nil {
		return "", fmt.Errorf("node failure: not injected")
	}
	return f.applied.Verify(ctx)
}

// Recover implements Fault.
func (f *NodeFailure) Recover(ctx context.Context, env *Env) error {
	if f.applied == nil {
		return env.Journal.Remove(env.ID)
	}
	return f.applied.Undo(ctx)
}
