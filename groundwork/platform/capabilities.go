package platform

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"time"

	"github.com/faultline/faultline/system/faultfs"
	"github.com/faultline/faultline/system/seed"
)

// The capabilities below are what faults and checks may ask of a platform,
// each a small interface of its own. A platform implements those it can;
// a fault that needs one the platform lacks is unknown, never invalid (see
// ErrUnsupported).

// ErrUnsupported means the platform lacks a capability a fault or check
// needs. The runner judges such a fault unknown, with the reason.
var ErrUnsupported = errors.New("not supported by this platform")

// Toxic is a toxiproxy toxic to put on a link (see toxiproxy's README for
// each type's attributes).
type Toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"` // upstream (caller -> callee) or downstream
	Toxicity   float32        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// Link is one caller instance's connection to one callee instance, through
// the caller's sidecar proxy:
//
//	caller instance ──► sidecar proxy (toxics) ──► callee instance
type Link interface {
	From() Instance
	To() Instance
	AddToxic(t Toxic) error
	RemoveToxic(name string) error
	Toxics() []string
}

// Links is the ability to find links. from and to each match an instance
// name, a service name, or anything when empty.
type Links interface {
	Links(from, to string) []Link
}

// Incarnation is one run of an instance: a process on the local platform,
// a container on Kubernetes. When the platform restarts an instance, the
// instance has a new incarnation; a signal meant for the old one never
// reaches the new one.
type Incarnation struct {
	ID  string `json:"id"`            // unique for the instance: "pid 4242", a container ID
	PID int    `json:"pid,omitempty"` // the process on the harness's host, where there is one
}

// State is what an incarnation is doing.
type State string

// States of an incarnation.
const (
	Running State = "running"
	Stopped State = "stopped" // frozen: SIGSTOP, a paused container
	Gone    State = "gone"    // exited, or replaced by a newer incarnation
)

// Signals is the ability to signal one exact incarnation of an instance.
// Faults that must act on the very process they chose (kill it and see it
// gone, restart it in a rollout) use it.
type Signals interface {
	// Incarnation returns the instance's current incarnation, and false if
	// it has none running.
	Incarnation(instance string) (Incarnation, bool)
	// Signal sends sig to inc. It fails with an error wrapping
	// ErrNotCurrent when inc is not, or no longer, the instance's current
	// incarnation.
	Signal(instance string, inc Incarnation, sig syscall.Signal) error
	// State says whether inc runs, is stopped, or is gone.
	State(instance string, inc Incarnation) (State, error)
}

// ErrNotCurrent means an incarnation is not the current one of an instance.
var ErrNotCurrent = errors.New("not the instance's current incarnation")

// Target is one incarnation of an instance that a fault acts on.
type Target struct {
	Instance    string
	Incarnation Incarnation
}

// Freezer is the ability to stop incarnations where they stand and let
// them go on later, as a stalled VM or a stop-the-world pause would. Freeze
// journals under id (before it acts) what a crashed run's reap needs to
// resume them; Thaw resumes each incarnation that is still current and
// removes the entry.
type Freezer interface {
	Freeze(ctx context.Context, id string, targets []Target) error
	Thaw(ctx context.Context, id string) error
}

// Pressure is the ability to squeeze instances' CPU: they get a fraction
// of a core, as under a noisy neighbour or a tight CPU limit. The platform
// journals under id whatever it starts, before the squeeze takes hold.
type Pressure interface {
	CPUPressure(ctx context.Context, id string, targets []Target, burners int) (Applied, error)
}

// Limits is the ability to hold instances to resource limits as a
// container runtime holds a container to its Kubernetes resources.limits:
// a CPU quota (CFS bandwidth: the instance is throttled once it has used
// its share of each 100 ms period) and a memory limit (past it the kernel
// reclaims what it can, then its OOM killer kills the instance). The
// platform journals under id what it changes before the limit takes hold.
// While the fault lasts, an instance started again (after an OOM kill) is
// held to the same limits, as a restarted container is.
type Limits interface {
	Limit(ctx context.Context, id string, targets []Target, l Limit) (Limited, error)
}

// Limited is a Limit in place.
type Limited interface {
	Applied
	// Effect is what the limit has done to its targets since it took hold.
	Effect() (Effect, error)
}

// Effect is what a Limit has done, summed over its targets.
type Effect struct {
	OOMKills  int   // processes the kernel's OOM killer killed
	LimitHits int64 // allocations that met the memory limit (and made the kernel reclaim)
	Periods   int64 // CFS periods in which a target ran
	Throttled int64 // of those, the periods in which it used up its quota and waited
}

// Limit is what Limits holds each target to. A zero field leaves that
// resource alone.
type Limit struct {
	// CPU is the cores each target may use, as a Kubernetes CPU limit
	// ("200m" is 0.2).
	CPU float64
	// Memory is the bytes each target may allocate from the moment it is
	// limited: what it already holds stays charged where it was, since a
	// kernel no longer moves memory between groups. A few pages make the
	// kernel OOM-kill the instance as soon as it allocates.
	Memory int64
	// Fill, with Memory, fills each target's memory at once with a
	// stressor in its group, the target made the OOM killer's first choice
	// (as a memory stressor inside a container does), so that the kernel OOM-kills the
	// target without waiting for it to allocate (a process that already
	// holds all the memory it needs may not, for a long time). Platforms
	// that cannot say so in the limit's evidence.
	Fill bool
}

// Applied is a resource fault a platform put in place.
type Applied interface {
	// Verify returns evidence that it holds.
	Verify(ctx context.Context) (string, error)
	// Undo removes it and its journal entry; it is idempotent.
	Undo(ctx context.Context) error
}

// Readiness is the ability to wait until an instance is ready again.
type Readiness interface {
	WaitReady(ctx context.Context, instance string) error
}

// Health is the ability to ask an instance whether it is healthy now (its
// readiness endpoint answers OK), as a readiness probe does on every
// period: unlike Readiness, which waits for a (re)started instance to be
// ready once, it sees an instance that went unhealthy while it ran.
type Health interface {
	// Healthy returns nil if instance says it is healthy, else why not.
	Healthy(ctx context.Context, instance string) error
}

// Endpoints is the ability to reach an instance's own HTTP servers from
// the harness, bypassing its callers' sidecars: on local its loopback
// address, on Kubernetes a port-forward on 127.0.0.1.
type Endpoints interface {
	// Endpoint is where the instance serves its API, /readyz and /metrics.
	Endpoint(ctx context.Context, instance string) (string, error)
	// AdminEndpoint is where it serves the admin fault hook (/admin): the
	// same place on local; on Kubernetes a port only the pod's loopback
	// listens on, behind no Service.
	AdminEndpoint(ctx context.Context, instance string) (string, error)
	// AdminToken is the bearer token the bank's /admin and /metrics
	// require: the platform issues one per run (see Authorize).
	AdminToken() string
	// TLS is the harness's TLS settings for the bank's servers (its
	// certificate, the run's CA), or nil when the bank speaks plain HTTP:
	// see URL and HTTPClient.
	TLS() *tls.Config
}

// Authorize makes req carry ep's admin token, for a bank's /admin or
// /metrics.
func Authorize(req *http.Request, ep Endpoints) *http.Request {
	if t := ep.AdminToken(); t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	return req
}

// CardNetwork is the ability to act as the card network the bank trusts:
// the per-run key card-api checks each message's MAC with
// (cardapi.HeaderMAC, cardapi.Sign).
type CardNetwork interface {
	CardKey() []byte
}

// NewKey returns a random 32-byte key for one of a run's secrets (the card
// network's key, the store's key).
func NewKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// NewAdminToken returns a random token for a run's admin routes.
func NewAdminToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Seeder is the ability to seed the bank with customers, accounts and
// cards, from a seed so that runs can be compared.
type Seeder interface {
	Seed(ctx context.Context, customers int, seed int64) (seed.Data, error)
}

// StoreLeaders is the ability to ask the store which of its nodes leads a
// stream now, for faults aimed at the leader.
type StoreLeaders interface {
	StreamLeader(ctx context.Context, stream string) (string, error)
}

// StoreNetwork is the ability to cut the store's own network, the routes
// between its nodes (its replication), below the nodes: nothing passes
// either way on any connection between the two nodes, and the
// connections stay open (packets dropped, not refused). A platform that
// cannot at this run returns an error wrapping ErrUnsupported.
type StoreNetwork interface {
	CutStore(ctx context.Context, a, b string) (StoreCut, error)
}

// StoreCut is a cut between two store nodes, in place until undone.
type StoreCut interface {
	Applied
	// Dropped returns how many packets the cut has dropped so far, both
	// ways: none means no node tried to reach the other.
	Dropped(ctx context.Context) (int64, error)
}

// StreamState is one store node's copy of a stream.
type StreamState struct {
	Messages uint64 `json:"messages"`
	Bytes    uint64 `json:"bytes"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
}

// StoreReplicas is the ability to ask each store node what it holds of a
// stream, to compare the replicas (split-brain: nodes serving different
// ledgers).
type StoreReplicas interface {
	// StreamReplicas returns each node's state of stream; a node that
	// cannot say is left out, with its error joined in the error.
	StreamReplicas(ctx context.Context, stream string) (map[string]StreamState, error)
}

// HostProcesses is the ability to name the processes on the harness's
// host that run the bank but do not descend from the harness (a kind
// cluster's node containers): their CPU is the run's own, not "other work
// on the host" (see groundwork/host).
type HostProcesses interface {
	HostPIDs() []int
}

// Versions is the ability to say what runs: the bank's build, the store's,
// the cluster's, for reports.
type Versions interface {
	Versions() map[string]string
}

// Pods is the ability to delete an instance's pod as an operator, a node
// drain or an eviction does: its containers get SIGTERM and the pod's grace
// period, then its controller (a StatefulSet) makes a new pod of the same
// name. Unlike Signals, which kill a container in place, inside the same
// pod, the new pod starts from nothing: a new sandbox and address, its
// sidecar's links made again.
type Pods interface {
	// PodOf returns the UID of the instance's current pod and whether that
	// pod is being deleted; false if it has none.
	PodOf(instance string) (uid string, deleting bool, ok bool)
	// DeletePod deletes the instance's pod if its UID is still uid, giving
	// its containers grace to stop (the pod's own period when grace is
	// negative).
	DeletePod(ctx context.Context, instance, uid string, grace time.Duration) error
}

// Rollouts is the ability to roll a service over to new instances as its
// controller does for a new version (a StatefulSet's rolling update): one
// instance at a time, the highest first, each replaced and ready before the
// next goes.
type Rollouts interface {
	// RollOut starts a rollout of every instance of service.
	RollOut(ctx context.Context, service string) error
	// RolledOut reports whether service's last rollout has finished: every
	// instance replaced and ready.
	RolledOut(ctx context.Context, service string) (bool, error)
}

// NodeFailure is how a whole node (a machine of the cluster, with every
// instance on it) fails.
type NodeFailure string

// Node failures.
const (
	// NodeLost: the machine dies at once (power, kernel panic); it comes
	// back when the fault is recovered, as a rebooted machine does.
	NodeLost NodeFailure = "lost"
	// NodeFrozen: every process on the machine stops where it stands (a
	// stalled hypervisor) and goes on when recovered.
	NodeFrozen NodeFailure = "frozen"
	// NodePartitioned: the machine drops off the cluster's network and
	// keeps running; it is reconnected, with its address, when recovered.
	NodePartitioned NodeFailure = "partitioned"
)

// Nodes is the ability to fail a whole node of the cluster the bank runs
// on. The local platform has no nodes: every instance shares this machine.
type Nodes interface {
	// NodeOf names the node instance runs on, and false if it has none.
	NodeOf(instance string) (string, bool)
	// FailNode makes node fail as how says. It journals under id (before
	// it acts) what a crashed run's reap needs to bring the node back; the
	// returned Applied verifies the failure and undoes it.
	FailNode(ctx context.Context, id, node string, how NodeFailure) (Applied, error)
}

// Disks is the ability to act on a store node's disk: the fault
// filesystem under its data directory (system/faultfs), which holds
// writes until they are fsynced as a page cache does. Disk fails with an
// error wrapping ErrUnsupported, and the reason, for a node that has none
// (no FUSE on the host, say).
type Disks interface {
	Disk(instance string) (Disk, error)
}

// Disk is one store node's disk.
type Disk interface {
	// Set replaces the disk's faults (slow, failing, full); the zero
	// Faults heals it.
	Set(f faultfs.Faults)
	Faults() faultfs.Faults
	// LoseUnsynced throws away every write not yet fsynced, as a power
	// loss does. Freeze the node first and kill it after.
	LoseUnsynced() faultfs.Lost
	Stats() faultfs.Stats
}

// Data is the ability to act on a store node's data while the node is
// down, as an operator (or a failure) does to a stopped machine's disk:
// Offline kills the node's current incarnation and keeps it from starting
// again while fn runs on its data directory, then lets the platform start
// it on what fn left.
type Data interface {
	Offline(ctx context.Context, instance string, fn func(dir string) error) error
}

// As returns p's capability C, or an error wrapping ErrUnsupported that
// says what it was needed for.
func As[C any](p Platform, what string) (C, error) {
	c, ok := p.(C)
	if !ok {
		return c, fmt.Errorf("%s on %s: %w", what, p.Name(), ErrUnsupported)
	}
	return c, nil
}
