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
	"errors"
	"syscall"
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

// ProcessHandles is the ability to signal one exact process of an instance
// through the handle the platform got when it started it (a pidfd on
// Linux), so that a process that has exited, and whose PID may since belong
// to anyone, is never signalled. Faults that must act on the very process
// they journaled (pause and resume it, kill it and see it gone) use it.
type ProcessHandles interface {
	// SignalProcess sends sig to instance's process pid. It fails with an
	// error wrapping ErrNotCurrent when pid is not, or no longer, the
	// process the platform runs for instance.
	SignalProcess(instance string, pid int, sig syscall.Signal) error
}

// ErrNotCurrent means a PID is not the current process of an instance.
var ErrNotCurrent = errors.New("not the instance's current process")
