package harness

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/system/topology"
)

// SweepKind is one kind of fault the blast-radius sweep puts on each
// target in turn.
type SweepKind struct {
	Name string // as in results.json and on the command line
	Desc string
	// Fault returns the fault for target, or why this kind cannot act on
	// it (nothing calls it; it has one replica, so "one" is "all").
	Fault func(target string) (faults.Fault, string)
}

// The sweep's fault settings.
const (
	SweepLatency   = 500 * time.Millisecond
	SweepErrorRate = 0.5
)

// SweepKinds are the faults of the sweep, in the order each target gets
// them. A store node (store-N, a target only when asked for) takes the
// three a node can suffer: killed, paused, cut from its peers.
var SweepKinds = []SweepKind{
	{"kill-all", "every replica killed (SIGKILL); the platform restarts them", func(t string) (faults.Fault, string) {
		if isStoreNode(t) {
			return &faults.Kill{Target: faults.Instance(t)}, ""
		}
		return &faults.Kill{Target: faults.All(t)}, ""
	}},
	{"kill-one", "one replica killed (SIGKILL)", func(t string) (faults.Fault, string) {
		if isStoreNode(t) {
			return nil, "a store node is one instance: see kill-all"
		}
		if s, _ := topology.Lookup(t); s.Replicas < 2 {
			return nil, "one replica: the same as kill-all"
		}
		return &faults.Kill{Target: faults.One(t)}, ""
	}},
	{"pause-all", "every replica frozen (SIGSTOP / cgroup freeze)", func(t string) (faults.Fault, string) {
		if isStoreNode(t) {
			return &faults.Pause{Target: faults.Instance(t)}, ""
		}
		return &faults.Pause{Target: faults.All(t)}, ""
	}},
	{"latency-in", fmt.Sprintf("%v more on every link into it", SweepLatency), func(t string) (faults.Fault, string) {
		if why := uncalled(t); why != "" {
			return nil, why
		}
		return faults.Latency("", t, SweepLatency, 0), ""
	}},
	{"partition-in", "every link into it cut (its callers' requests hang)", func(t string) (faults.Fault, string) {
		if isStoreNode(t) {
			var n int
			fmt.Sscanf(t, topology.Store+"-%d", &n)
			return faults.IsolateStoreNode(n), ""
		}
		if why := uncalled(t); why != "" {
			return nil, why
		}
		return faults.Partition("", t, false), ""
	}},
	{"errors-in", fmt.Sprintf("%.0f%% of its API requests answered 503 (L7)", 100*SweepErrorRate), func(t string) (faults.Fault, string) {
		if why := uncalled(t); why != "" {
			return nil, why
		}
		return &faults.HTTPFault{Target: faults.All(t), Route: "/v1/", ErrorRate: SweepErrorRate, Status: 503}, ""
	}},
}

// LookupSweepKind returns the named kind.
func LookupSweepKind(name string) (SweepKind, bool) {
	i := slices.IndexFunc(SweepKinds, func(k SweepKind) bool { return k.Name == name })
	if i < 0 {
		return SweepKind{}, false
	}
	return SweepKinds[i], true
}

func isStoreNode(t string) bool { return strings.HasPrefix(t, topology.Store+"-") }

// uncalled says why no request reaches target over a link, if none does:
// no service calls it and it is no entry point (the deferred workers only
// read the store).
func uncalled(t string) string {
	if isStoreNode(t) {
		return "store nodes are reached by every service: see partition-in"
	}
	if len(topology.Callers(t)) > 0 || len(topology.Entry[t]) > 0 {
		return ""
	}
	return "nothing calls it: it only works from the store"
}

// sweepTier is the tier of a sweep target: a service's own, 0 for a
// store node (every tier 0 feature writes through the store).
func sweepTier(target string) int {
	if isStoreNode(target) {
		return 0
	}
	s, _ := topology.Lookup(target)
	return s.Tier
}

// singleInstance reports whether the cell's fault takes away one instance
// of several: the tier contract says no such fault may touch a tier 0
// feature.
func singleInstance(kind, target string) bool {
	return kind == "kill-one" || isStoreNode(target)
}
