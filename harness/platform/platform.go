// Package platform says what the harness needs from a place the bank runs
// on: its instances, their addresses, their processes and links, and the
// events they go through. The local implementation (platform/local) runs
// every instance as an OS process on loopback; others (a kind cluster, a
// given Kubernetes context) implement the same interface.
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
	Addr    string // host:port it serves on (for a store node, its client port)
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

// Platform runs the bank for the harness. Implementations are safe for
// concurrent use once started.
type Platform interface {
	// Start brings the whole mesh up and returns once every instance is ready.
	Start(ctx context.Context) error
	// Stop stops everything it started; it is idempotent.
	Stop(ctx context.Context) error
	// Instances returns the instances of service ("" for all).
	Instances(service string) []Instance
	// Ingress returns the addresses through which clients reach service.
	Ingress(service string) []string
	// Events delivers instance events until Stop.
	Events() <-chan Event
	// Name is the platform's name for reports: local, kind, kube.
	Name() string
}
