// The catalogue: every fault a person can name on the command line
// (faultline inject), built from a target and a few settings.

package faults

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/system/topology"
)

// Params are a catalogue fault's settings from the command line; each
// entry reads those it knows (Entry.Params) and has a default for each.
type Params struct {
	From    string        // link faults: the caller side ("" every caller)
	Latency time.Duration // latency, delay
	Jitter  time.Duration
	Rate    float64 // errors, delay: the share of requests
	Status  int     // errors
	Route   string  // errors, delay: path prefix
	Both    bool    // partition both ways
	Cores   float64 // cpu-limit
	Bytes   int64   // memory-limit
	Every   time.Duration
	Grace   time.Duration
}

// Entry is one fault of the catalogue.
type Entry struct {
	Name, Desc string
	Target     string   // what the target names: "service or instance", "store node", ...
	Params     []string // the Params fields it reads
	Make       func(target string, p Params) (Fault, error)
}

// selector reads a target: an instance (name-N) or a whole service.
func selector(target string) (Selector, error) {
	if _, ok := topology.Lookup(target); ok {
		return All(target), nil
	}
	s := Selector{Instance: target}
	if err := s.Validate(); err != nil {
		return s, err
	}
	svc := s.service()
	if _, ok := topology.Lookup(svc); !ok && svc != topology.Store {
		return s, fmt.Errorf("%q is neither a service of the mesh description nor one of its instances (service-N, store-N)", target)
	}
	return s, nil
}

func storeIndex(target string) (int, error) {
	var n int
	if _, err := fmt.Sscanf(target, topology.Store+"-%d", &n); err != nil || n < 0 || n >= topology.StoreNodes {
		return 0, fmt.Errorf("%q: a store node is %s-0 to %s-%d", target, topology.Store, topology.Store, topology.StoreNodes-1)
	}
	return n, nil
}

func bySelector(f func(Selector, Params) Fault) func(string, Params) (Fault, error) {
	return func(t string, p Params) (Fault, error) {
		s, err := selector(t)
		if err != nil {
			return nil, err
		}
		return f(s, p), nil
	}
}

// Catalogue lists the faults a person can inject by name into a running
// bank (faultline inject), each built from a target and Params.
var Catalogue = []Entry{
	{"kill", "SIGKILL every replica of a service, or one instance; the platform restarts them", "service or instance", nil,
		bySelector(func(s Selector, _ Params) Fault { return &Kill{Target: s} })},
	{"kill-one", "SIGKILL one replica, chosen at random", "service", nil,
		func(t string, _ Params) (Fault, error) {
			if _, ok := topology.Lookup(t); !ok {
				return nil, fmt.Errorf("%q is not a service of the mesh description", t)
			}
			return &Kill{Target: One(t)}, nil
		}},
	{"stop", "SIGTERM: a graceful stop, the instance drains first", "service or instance", nil,
		bySelector(func(s Selector, _ Params) Fault { return GracefulStop(s) })},
	{"pause", "freeze every replica, or one instance", "service or instance", nil,
		bySelector(func(s Selector, _ Params) Fault { return &Pause{Target: s} })},
	{"flap", "kill an instance again and again", "service or instance", []string{"every"},
		bySelector(func(s Selector, p Params) Fault { return &Flap{Target: s, Every: p.Every} })},
	{"latency", "delay every link into the target (from -from only, if given)", "service or instance", []string{"from", "latency", "jitter"},
		func(t string, p Params) (Fault, error) { return Latency(p.From, t, p.Latency, p.Jitter), nil }},
	{"partition", "cut every link into the target (from -from only; -both: both ways)", "service or instance", []string{"from", "both"},
		func(t string, p Params) (Fault, error) { return Partition(p.From, t, p.Both), nil }},
	{"reset", "reset connections into the target", "service or instance", []string{"from"},
		func(t string, p Params) (Fault, error) { return ResetPeer(p.From, t, 0), nil }},
	{"errors", "answer a share of the target's API requests with an HTTP error (L7)", "service or instance", []string{"rate", "status", "route"},
		bySelector(func(s Selector, p Params) Fault {
			return &HTTPFault{Target: s, Route: p.Route, ErrorRate: p.Rate, Status: p.Status}
		})},
	{"delay", "delay a share of the target's API requests (L7)", "service or instance", []string{"rate", "latency", "route"},
		bySelector(func(s Selector, p Params) Fault {
			return &HTTPFault{Target: s, Route: p.Route, DelayRate: p.Rate, Delay: p.Latency}
		})},
	{"cpu", "burn CPU beside the target", "service or instance", nil,
		bySelector(func(s Selector, _ Params) Fault { return &CPUPressure{Target: s} })},
	{"cpu-limit", "cap the target's CPU (a container's limit)", "service or instance", []string{"cores"},
		bySelector(func(s Selector, p Params) Fault { return &CPULimit{Target: s, Cores: p.Cores} })},
	{"memory-limit", "cap the target's memory; with no -bytes, low enough that the kernel OOM-kills it", "service or instance", []string{"bytes"},
		bySelector(func(s Selector, p Params) Fault {
			if p.Bytes == 0 {
				return OOMKill(s)
			}
			return &MemoryLimit{Target: s, Bytes: p.Bytes}
		})},
	{"store-isolate", "cut a store node from its peers (their replication)", "store node", nil,
		func(t string, _ Params) (Fault, error) {
			n, err := storeIndex(t)
			return IsolateStoreNode(n), err
		}},
	{"disk-slow", "slow a store node's disk (each write and fsync)", "store node", []string{"latency"},
		func(t string, p Params) (Fault, error) {
			_, err := storeIndex(t)
			return SlowDisk(Instance(t), p.Latency, p.Latency), err
		}},
	{"disk-fail", "fail a store node's writes (EIO)", "store node", nil,
		func(t string, _ Params) (Fault, error) { _, err := storeIndex(t); return FailingDisk(Instance(t)), err }},
	{"disk-full", "fill a store node's disk (ENOSPC)", "store node", nil,
		func(t string, _ Params) (Fault, error) { _, err := storeIndex(t); return FullDisk(Instance(t)), err }},
	{"power-loss", "cut a store node's power: unsynced writes lost", "store node", nil,
		func(t string, _ Params) (Fault, error) {
			n, err := storeIndex(t)
			return PowerLossOf(n), err
		}},
	{"pod-delete", "delete pods (Kubernetes platforms)", "service or instance", []string{"grace"},
		bySelector(func(s Selector, p Params) Fault { return &PodDelete{Target: s, Grace: p.Grace} })},
	{"node-lost", "kill the node an instance runs on (Kubernetes platforms)", "service or instance", nil,
		bySelector(func(s Selector, _ Params) Fault { return NodeLost(s) })},
	{"rollout", "restart a service's replicas one at a time", "service", nil,
		func(t string, _ Params) (Fault, error) { return Rollout(strings.Split(t, ",")...), nil }},
}

// DefaultParams are the settings a catalogue fault takes when none is given.
var DefaultParams = Params{Latency: 500 * time.Millisecond, Rate: 0.5, Status: 503, Route: "/v1/", Cores: 0.2, Every: 3 * time.Second}

// FromCatalogue returns the catalogue's fault name on target with p,
// validated against the mesh description.
func FromCatalogue(name, target string, p Params) (Fault, error) {
	for _, e := range Catalogue {
		if e.Name == name {
			f, err := e.Make(target, p)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", name, target, err)
			}
			if err := f.Validate(); err != nil {
				return nil, fmt.Errorf("%s %s: %w", name, target, err)
			}
			return f, nil
		}
	}
	var names []string
	for _, e := range Catalogue {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("no fault %q in the catalogue; it has %s", name, strings.Join(names, ", "))
}
