// Package platform is the one boundary between the harness and the place
// the bank runs on: its instances and the events they go through
// (Platform), and the capabilities faults and checks act through (Signals,
// Freezer, Pressure, Links, Readiness, Endpoints, Seeder, Versions), each
// a small interface a platform implements if it can. Platforms register
// themselves (Register) and are chosen by name (Open); each reaps what its
// dead runs journaled (Reap). The local implementation (platform/local)
// runs every instance as an OS process on loopback; others (a kind
// cluster, a given Kubernetes context) implement the same interfaces.
//
// It is not a deployment tool: it only runs the mesh that system/topology
// describes, for the length of a test run.
package platform

import (
	"context"
	"time"
)

// Instance is one replica of a service, or a store node.
type Instance struct {
	Name    string // e.g. balance-0, store-2
	Service string // e.g. balance, store
	Tier    int
	// Addr is where the instance serves inside the mesh (for a store node,
	// its client port). The harness reaches an instance through Endpoints,
	// which on local gives this address.
	Addr string
}

// Event is something that happened to an instance.
type Event struct {
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"` // started, exited, restarted, ready
	Instance string    `json:"instance"`
	Detail   string    `json:"detail,omitempty"`
}

// Event kinds.
const (
	EventStarted = "started"
	EventExited  = "exited"
	EventReady   = "ready"
)

// ExitedCleanly is the Detail of an exited event whose process exited with
// status 0, on every platform (a bank process that finished its drain).
const ExitedCleanly = "exit status 0"

// Platform runs the bank for the harness. Implementations are safe for
// concurrent use once started.
type Platform interface {
	// Start brings the whole mesh up and returns once every instance is ready.
	Start(ctx context.Context) error
	// Stop stops everything it started; it is idempotent.
	Stop(ctx context.Context) error
	// Instances returns the instances of service ("" for all).
	Instances(service string) []Instance
	// Ingress returns the addresses through which clients reach service
	// (edge, card-api) now: those of its ready instances, or all when none
	// is ready, as a load balancer that follows readiness would.
	Ingress(service string) []string
	// Events delivers instance events until Stop.
	Events() <-chan Event
	// Name is the platform's name for reports: local, kind, kube.
	Name() string
}
