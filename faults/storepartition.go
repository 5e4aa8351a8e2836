package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/topology"
)

// StorePartition cuts one store node off from the others on the store's own
// links (its replication: the routes between nodes), as a network
// partition does: nothing passes either way, on every connection, and the
// connections stay open (packets dropped, not refused), so that each side
// finds out from its own timeouts. The bank's services keep their links to
// every node: the node is cut off from its peers, not from its clients.
//
//	store-1 ──╳── store-0, store-2
//
// The platform cuts the routes below the nodes where it can
// (platform.StoreNetwork: the local platform, with iptables); elsewhere the
// fault needs store nodes that reach each other through links, and cuts
// those; a platform with neither does not support it.
type StorePartition struct {
	Node string // the node cut off, "store-1"
	// Leader, when set, names a stream whose leader at the time of the
	// injection is the node cut off (Node is then set by Inject).
	Leader string
	// Only, when set, cuts Node off from this one node only: the third
	// node still reaches both, and bridges them (Jepsen's bridge).
	Only string

	hit   []platform.Link     // the links cut, when the links carry the routes
	cuts  []platform.StoreCut // the cuts in place, when the platform cuts
	peers []string            // the nodes Node is cut from, for the cuts
}

// BridgeStore cuts store node a off from store node b only: the third
// node still reaches both (Jepsen's bridge partition). Each half sees a
// majority, with the bridge in both.
//
//	store-a ──╳── store-b
//	      \       /
//	      the third
func BridgeStore(a, b int) *StorePartition {
	return &StorePartition{Node: fmt.Sprintf("%s-%d", topology.Store, a), Only: fmt.Sprintf("%s-%d", topology.Store, b)}
}

// IsolateStoreNode cuts store node node (0, 1 or 2) off from the others.
func IsolateStoreNode(node int) *StorePartition {
	return &StorePartition{Node: fmt.Sprintf("%s-%d", topology.Store, node)}
}

// IsolateStoreLeader cuts off, from the other nodes, the node that leads
// stream when the fault is injected (the store is asked).
func IsolateStoreLeader(stream string) *StorePartition { return &StorePartition{Leader: stream} }

// Name implements Fault.
func (f *StorePartition) Name() string {
	if f.Leader != "" {
		return "partition the leader of " + f.Leader + " from the other store nodes"
	}
	if f.Only != "" {
		return "partition " + f.Node + " from " + f.Only + " (the third store node reaches both)"
	}
	return "partition " + f.Node + " from the other store nodes"
}

// Services implements Targeted.
func (f *StorePartition) Services() []string { return []string{topology.Store} }

// Validate implements Fault.
func (f *StorePartition) Validate() error {
	if f.Leader != "" {
		return nil
	}
	if err := isStoreNode(f.Node); err != nil {
		return err
	}
	if f.Only == "" {
		return nil
	}
	if f.Only == f.Node {
		return fmt.Errorf("store partition: %s cannot be cut off from itself", f.Node)
	}
	return isStoreNode(f.Only)
}

// isStoreNode checks that name names a store node.
func isStoreNode(name string) error {
	var i int
	if _, err := fmt.Sscanf(name, topology.Store+"-%d", &i); err != nil || i < 0 || i >= topology.StoreNodes || name != fmt.Sprintf("%s-%d", topology.Store, i) {
		return fmt.Errorf("store partition: %q is not a store node (store-0 to store-%d)", name, topology.StoreNodes-1)
	}
	return nil
}

// cutStreams are the streams a cut link stops, each with a toxic of its
// own: nothing passes either way on any of its connections.
var cutStreams = []string{"upstream", "downstream"}

func (f *StorePartition) toxic(env *Env, stream string) string {
	return "faultline-" + env.ID + "-" + stream
}

// Inject implements Fault.
func (f *StorePartition) Inject(ctx context.Context, env *Env) error {
	if f.Leader != "" {
		sl, err := platform.As[platform.StoreLeaders](env.Platform, "asking the store for a stream's leader")
		if err != nil {
			return err
		}
		if f.Node, err = sl.StreamLeader(ctx, f.Leader); err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
	}
	if err := env.Journal.Write(journal.Entry{Kind: "link", ID: env.ID, Target: f.Name()}); err != nil {
		return err
	}
	err := f.cut(ctx, env)
	if errors.Is(err, ErrUnsupported) {
		err = f.cutLinks(env)
	}
	return err
}

// cut has the platform cut the routes between Node and each peer.
func (f *StorePartition) cut(ctx context.Context, env *Env) error {
	sn, err := platform.As[platform.StoreNetwork](env.Platform, "cutting the store's routes")
	if err != nil {
		return err
	}
	f.peers = nil
	for i := range topology.StoreNodes {
		peer := fmt.Sprintf("%s-%d", topology.Store, i)
		if peer != f.Node && (f.Only == "" || peer == f.Only) {
			f.peers = append(f.peers, peer)
		}
	}
	for _, peer := range f.peers {
		c, err := sn.CutStore(ctx, f.Node, peer)
		if err != nil {
			return err
		}
		f.cuts = append(f.cuts, c)
	}
	return nil
}

// cutLinks puts toxics that pass nothing on every link between Node and its
// peers, both ways.
func (f *StorePartition) cutLinks(env *Env) error {
	ls, err := platform.As[platform.Links](env.Platform, "store partitions")
	if err != nil {
		return err
	}
	// Both ends are store nodes: the node's links to the store service and
	// the store service's links to the node.
	peers := topology.Store
	if f.Only != "" {
		peers = f.Only
	}
	f.hit = append(ls.Links(f.Node, peers), ls.Links(peers, f.Node)...)
	if len(f.hit) == 0 {
		return fmt.Errorf("%s: the %s platform does not route the store's replication through links: %w", f.Name(), env.Platform.Name(), ErrUnsupported)
	}
	for _, l := range f.hit {
		for _, stream := range cutStreams {
			t := toxic("timeout", stream, map[string]any{"timeout": 0})
			t.Name = f.toxic(env, stream)
			if err := l.AddToxic(t); err != nil {
				return err
			}
		}
	}
	return nil
}

// Verify implements Fault: every cut, or both toxics on every link between
// the node and its peers, both ways, is in place.
func (f *StorePartition) Verify(ctx context.Context, env *Env) (string, error) {
	who := f.Node + " cut off"
	if f.Only != "" {
		who = f.Node + " and " + f.Only + " cut apart"
	}
	if len(f.cuts) > 0 {
		var ev []string
		for _, c := range f.cuts {
			e, err := c.Verify(ctx)
			if err != nil {
				return "", err
			}
			ev = append(ev, e)
		}
		return fmt.Sprintf("%s: nothing passes either way (%s)", who, strings.Join(ev, "; ")), nil
	}
	var ends []string
	for _, l := range f.hit {
		for _, stream := range cutStreams {
			if !slices.Contains(l.Toxics(), f.toxic(env, stream)) {
				return "", fmt.Errorf("%s toxic missing on %s->%s", stream, l.From().Name, l.To().Name)
			}
		}
		ends = append(ends, l.From().Name+"->"+l.To().Name)
	}
	return fmt.Sprintf("%s: nothing passes either way on %d links (%s)", who, len(f.hit), strings.Join(ends, ", ")), nil
}

// Report implements Reporter where the platform cuts: the packets each cut
// dropped; none at all is no effect (neither side tried the other).
func (f *StorePartition) Report(ctx context.Context, env *Env) (string, error) {
	if len(f.cuts) == 0 {
		return "", nil
	}
	var ev []string
	var total int64
	for i, c := range f.cuts {
		n, err := c.Dropped(ctx)
		if err != nil {
			return "", err
		}
		total += n
		ev = append(ev, fmt.Sprintf("%s<->%s %d packets dropped", f.Node, f.peers[i], n))
	}
	if total == 0 {
		return "", fmt.Errorf("%w: no packet between %s and its peers was dropped", ErrNoEffect, f.Node)
	}
	return strings.Join(ev, "; "), nil
}

// Recover implements Fault.
func (f *StorePartition) Recover(ctx context.Context, env *Env) error {
	var errs []error
	for _, c := range f.cuts {
		errs = append(errs, c.Undo(ctx))
	}
	for _, l := range f.hit {
		for _, stream := range cutStreams {
			errs = append(errs, l.RemoveToxic(f.toxic(env, stream)))
		}
	}
	errs = append(errs, env.Journal.Remove(env.ID))
	return errors.Join(errs...)
}
