package platform

import (
	"context"
	"syscall"
)

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

// Processes is the ability to signal the process of an instance.
type Processes interface {
	PID(instance string) (int, bool)
	Signal(instance string, sig syscall.Signal) error
	// Binary is the path of the bank binary the processes run.
	Binary() string
}

// Readiness is the ability to wait until an instance is ready again.
type Readiness interface {
	WaitReady(ctx context.Context, instance string) error
}
