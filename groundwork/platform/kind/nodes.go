package kind

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/groundwork/platform/kube"
	"github.com/faultline/faultline/kind/cluster"
)

// A kind node is a Docker container on this machine, so a whole machine
// failing is that container failing, through the Docker API
// (testcontainers-go's client):
//
//	lost         the container killed (SIGKILL to everything in it), started again
//	frozen       the container paused (cgroup freezer), unpaused
//	partitioned  every packet of the container on the cluster's network
//	             dropped by iptables inside it (nodecut.go), then let through
//
// The control plane is never failed: the API server, the entry points'
// port mappings and the harness's port-forwards live there, and losing it
// would blind the harness rather than test the bank.

// KindNode is the journal entry kind of a node fault; its Target is
// "node/failure/address" (see nodeEntry).
const KindNode = "node"

// kindNetwork is the Docker network kind puts every node on.
const kindNetwork = "kind"

var _ platform.Nodes = (*Platform)(nil)

// NodeOf implements platform.Nodes: the node the instance's pod is bound to.
func (p *Platform) NodeOf(instance string) (string, bool) {
	pod := p.Pod(instance)
	if pod == nil || pod.Spec.NodeName == "" {
		return "", false
	}
	return pod.Spec.NodeName, true
}

// FailNode implements platform.Nodes for a worker of the platform's cluster.
func (p *Platform) FailNode(ctx context.Context, id, node string, how platform.NodeFailure) (platform.Applied, error) {
	nodes, err := cluster.Nodes(p.cluster)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(nodes, node) {
		return nil, fmt.Errorf("fail node %s: not a node of cluster %s (%s)", node, p.cluster, strings.Join(nodes, ", "))
	}
	if strings.HasSuffix(node, "-control-plane") {
		return nil, fmt.Errorf("fail node %s: the control plane carries the API server and the entry points; only workers fail", node)
	}
	dc, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	ip, err := nodeAddress(ctx, dc, node)
	if err != nil {
		dc.Close()
		return nil, err
	}
	f := &nodeFault{p: p, dc: dc, id: id, node: node, how: how, ip: ip, instances: p.instancesOn(node)}
	if err := p.Journal().Write(journal.Entry{Kind: KindNode, ID: id, Target: nodeEntry(node, how, ip)}); err != nil {
		dc.Close()
		return nil, err
	}
	if err := fail(ctx, dc, node, how, ip); err != nil {
		return f, fmt.Errorf("fail node %s (%s): %w", node, how, err)
	}
	return f, nil
}

// nodeRejoinPatience bounds how long Undo waits for a node's kubelet to
// report it Ready again (a booted kind node: 10-30 s on two cores).
const nodeRejoinPatience = 3 * time.Minute

// nodeRejoined waits until node's kubelet has renewed its lease after since
// (its heartbeat, every 10 s) and the node's Ready condition is true. The
// node's status is no heartbeat: a kubelet whose status did not change
// posts it only every 5 minutes, so a node cut off for less than the node
// monitor's grace period comes back with an old status heartbeat.
func (p *Platform) nodeRejoined(ctx context.Context, node string, since time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, nodeRejoinPatience)
	defer cancel()
	for {
		if p.renewedSince(ctx, node, since) && p.nodeReady(ctx, node) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not back in the cluster (Ready) within %v: %w", node, nodeRejoinPatience, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// renewedSince reports whether node's kubelet has renewed its lease after
// since.
func (p *Platform) renewedSince(ctx context.Context, node string, since time.Time) bool {
	lease, err := p.Clientset().CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, node, metav1.GetOptions{})
	return err == nil && lease.Spec.RenewTime != nil && lease.Spec.RenewTime.After(since)
}

// nodeReady reports whether node's Ready condition is true.
func (p *Platform) nodeReady(ctx context.Context, node string) bool {
	n, err := p.Clientset().CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return false
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// instancesOn lists the bank's instances whose pods are bound to node.
func (p *Platform) instancesOn(node string) []string {
	var out []string
	for _, in := range p.Platform.Instances("") {
		if n, ok := p.NodeOf(in.Name); ok && n == node {
			out = append(out, in.Name)
		}
	}
	sort.Strings(out)
	return out
}

// nodeFault is a node failure in place.
type nodeFault struct {
	p         *Platform // its journal, and whether the node is back in the cluster
	dc        *testcontainers.DockerClient
	id, node  string
	how       platform.NodeFailure
	ip        string
	instances []string
	undone    bool
}

// Verify implements platform.Applied from the container's own state.
func (f *nodeFault) Verify(ctx context.Context) (string, error) {
	r, err := f.dc.ContainerInspect(ctx, f.node, client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect node %s: %w", f.node, err)
	}
	st := r.Container.State
	var ok bool
	switch f.how {
	case platform.NodeLost:
		ok = st != nil && !st.Running
	case platform.NodeFrozen:
		ok = st != nil && st.Paused
	case platform.NodePartitioned:
		var err error
		if ok, err = isCut(ctx, f.dc, f.node); err != nil {
			return "", err
		}
	}
	if !ok {
		return "", fmt.Errorf("node %s is not %s", f.node, f.how)
	}
	return fmt.Sprintf("node %s %s, with %s on it", f.node, f.how, strings.Join(f.instances, ", ")), nil
}

// Undo implements platform.Applied: the node back as it was and back in
// the cluster (its kubelet reporting it Ready again; until then its pods
// can be neither replaced nor deleted), then the journal entry removed.
// Idempotent.
func (f *nodeFault) Undo(ctx context.Context) error {
	if f.undone {
		return nil
	}
	since := time.Now()
	if err := restore(ctx, f.dc, f.node, f.how, f.ip); err != nil {
		return err
	}
	if err := f.p.nodeRejoined(ctx, f.node, since); err != nil {
		return err
	}
	f.undone = true
	f.dc.Close()
	return f.p.Journal().Remove(f.id)
}

func dockerClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return dc, nil
}

// nodeAddress is the node's address on the cluster's network.
func nodeAddress(ctx context.Context, dc *testcontainers.DockerClient, node string) (string, error) {
	r, err := dc.ContainerInspect(ctx, node, client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect node %s: %w", node, err)
	}
	if r.Container.NetworkSettings != nil {
		if ep := r.Container.NetworkSettings.Networks[kindNetwork]; ep != nil && ep.IPAddress.IsValid() {
			return ep.IPAddress.String(), nil
		}
	}
	return "", fmt.Errorf("node %s has no address on network %s", node, kindNetwork)
}

func fail(ctx context.Context, dc *testcontainers.DockerClient, node string, how platform.NodeFailure, ip string) error {
	var err error
	switch how {
	case platform.NodeLost:
		_, err = dc.ContainerKill(ctx, node, client.ContainerKillOptions{Signal: "KILL"})
	case platform.NodeFrozen:
		_, err = dc.ContainerPause(ctx, node, client.ContainerPauseOptions{})
	case platform.NodePartitioned:
		err = cut(ctx, dc, node, ip)
	default:
		err = fmt.Errorf("no such node failure %q", how)
	}
	return err
}

// restore undoes how on node, if it still holds: a lost node is started
// (and given its address back if it came up without it), a frozen one
// unpaused, a partitioned one's traffic let through.
func restore(ctx context.Context, dc *testcontainers.DockerClient, node string, how platform.NodeFailure, ip string) error {
	r, err := dc.ContainerInspect(ctx, node, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect node %s: %w", node, err)
	}
	st := r.Container.State
	switch how {
	case platform.NodeLost:
		if st != nil && st.Running {
			return nil
		}
		if _, err := dc.ContainerStart(ctx, node, client.ContainerStartOptions{}); err != nil {
			return fmt.Errorf("start node %s again: %w", node, err)
		}
		if got, err := nodeAddress(ctx, dc, node); err != nil || got != ip {
			return fmt.Errorf("node %s booted at address %s, not its own %s (%v)", node, got, ip, err)
		}
		return nil
	case platform.NodeFrozen:
		if st == nil || !st.Paused {
			return nil
		}
		if _, err := dc.ContainerUnpause(ctx, node, client.ContainerUnpauseOptions{}); err != nil {
			return fmt.Errorf("unpause node %s: %w", node, err)
		}
		return nil
	case platform.NodePartitioned:
		if st == nil || !st.Running {
			return nil // a node that is not running holds no partition
		}
		return uncut(ctx, dc, node)
	}
	return fmt.Errorf("no such node failure %q", how)
}

// nodeEntry and parseNodeEntry are a node fault's journal target.
func nodeEntry(node string, how platform.NodeFailure, ip string) string {
	return node + "/" + string(how) + "/" + ip
}

func parseNodeEntry(target string) (node string, how platform.NodeFailure, ip string, err error) {
	parts := strings.Split(target, "/")
	if len(parts) != 3 || parts[0] == "" {
		return "", "", "", fmt.Errorf("node entry names %q, not node/failure/address", target)
	}
	return parts[0], platform.NodeFailure(parts[1]), parts[2], nil
}

// reapNodes brings back every node a dead run failed (each entry's node,
// only if the failure still holds), and returns the other entries.
func reapNodes(entries []journal.Entry, dir string) ([]journal.Entry, []journal.Skip) {
	var rest []journal.Entry
	var skipped []journal.Skip
	for _, e := range entries {
		if e.Kind != KindNode {
			rest = append(rest, e)
			continue
		}
		err := func() error {
			node, how, ip, err := parseNodeEntry(e.Target)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dc, err := dockerClient(ctx)
			if err != nil {
				return err
			}
			defer dc.Close()
			return restore(ctx, dc, node, how, ip)
		}()
		if err != nil {
			skipped = append(skipped, journal.Skip{Run: e.Run, ID: e.ID, Reason: err.Error()})
			continue
		}
		_ = journal.RemoveEntry(dir, e)
	}
	return rest, skipped
}

// Reap is the kind platform's reaper: the nodes a dead run failed come
// back first, then the kube platform's reaper deletes its namespace.
func Reap(dir string, entries []journal.Entry) journal.Reaped {
	rest, skipped := reapNodes(entries, dir)
	r := kube.Reap(dir, rest)
	r.Entries += len(entries) - len(rest)
	r.Skipped = append(r.Skipped, skipped...)
	r.Runs = nil // every entry's run, node entries' included
	seen := map[string]bool{}
	for _, e := range entries {
		if !seen[e.Run] {
			seen[e.Run] = true
			r.Runs = append(r.Runs, e.Run)
		}
	}
	return r
}
