package result

import (
	"time"

	"github.com/faultline/faultline/groundwork/check"
)

// Sweep is what the blast-radius sweep saves: a fault of each kind on each
// service in turn under the standard load, and what each did to each
// customer feature (harness.Sweep).
type Sweep struct {
	Thresholds check.Thresholds `json:"thresholds"`
	Baseline   time.Duration    `json:"baseline"` // the window before each fault that is its reference
	Window     time.Duration    `json:"window"`   // how long each fault stays on
	Cells      []Cell           `json:"cells"`
	// Paths are the measured and the declared critical path of each
	// feature; Findings list every difference, and every breach of a tier
	// contract, for the top of the report.
	Paths    []Path    `json:"paths"`
	Findings []Finding `json:"findings,omitempty"`
}

// Cell is one fault on one target.
type Cell struct {
	Target string `json:"target"` // a service, or a store node
	Kind   string `json:"kind"`   // the fault's kind in the sweep ("kill-all", "latency-in", ...)
	Fault  Fault  `json:"fault"`
	// Skipped says why the cell was not run (the fault cannot act on this
	// target: nothing calls it, it has one replica); nothing else is set.
	Skipped string `json:"skipped,omitempty"`
	// Unsteady says why the bank was not steady before the fault; the
	// cell's effects are then not judged.
	Unsteady string          `json:"unsteady,omitempty"`
	Features []FeatureEffect `json:"features,omitempty"`
	// Back is how long after the fault's recovery the bank was steady
	// again and its deferred work caught up; BackError says why it was not
	// within the sweep's limit.
	Back      time.Duration `json:"back"`
	BackError string        `json:"back_error,omitempty"`
	// CatchingUp says that, when the wait for the bank ended (BackError),
	// its deferred work was still going down: slow, not stuck.
	CatchingUp bool `json:"catching_up,omitempty"`
	// Again is the cell run a second time, at once, because its first run
	// breached a tier contract: a breach counts only when the second run
	// shows it too (one run can catch the machine's own hiccup; a
	// dependency shows every time). Nil when there was no breach.
	Again *Cell `json:"again,omitempty"`
}

// FeatureEffect is one feature's figures in one cell.
type FeatureEffect struct {
	Feature  string        `json:"feature"`
	Effect   check.Effect  `json:"effect"`
	Why      string        `json:"why"`
	Before   check.Stats   `json:"before"`
	During   check.Stats   `json:"during"`
	Drop     float64       `json:"drop"`      // success before - during, in points (negative: better)
	P99Delta time.Duration `json:"p99_delta"` // p99 during - before
	Recovery time.Duration `json:"recovery"`  // from the fault's recovery (a kill's injection) until the feature met the recovery objective; -1 if not seen
}

// Path is a feature's critical path: the services the mesh description
// declares on it, and those a fault on which degraded or broke it.
type Path struct {
	Feature  string   `json:"feature"`
	Tier     int      `json:"tier"`
	Declared []string `json:"declared"`
	Measured []string `json:"measured"`
}

// Finding is one thing the sweep found: a tier contract breached (the
// sweep fails), or a measured critical path that differs from the
// declared one.
type Finding struct {
	Kind    string   `json:"kind"` // "contract", "hidden-dependency", "declared-not-measured", "not-back"
	Feature string   `json:"feature,omitempty"`
	Service string   `json:"service,omitempty"`
	Cells   []string `json:"cells,omitempty"` // "<kind> <target>"
	Detail  string   `json:"detail"`
}
