// Package result is the saved form of a run: results.json, its schema and
// how to read and write it. The harness writes it; reports and the CLI read
// it. Field names and units are stable (durations are nanoseconds).
package result

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/load"
)

// Fault is what the run saves of one injected fault.
type Fault struct {
	Name      string        `json:"name"`
	ID        string        `json:"id"`
	Services  []string      `json:"services,omitempty"`
	Injected  time.Duration `json:"injected"`  // offset from the run's start
	Recovered time.Duration `json:"recovered"` // offset from the run's start
	Evidence  string        `json:"evidence,omitempty"`
	Error     string        `json:"error,omitempty"`
}

// Scenario is everything the run saves of one scenario.
type Scenario struct {
	Name      string                      `json:"name"`
	Runbook   string                      `json:"runbook"`
	Verdict   check.Verdict               `json:"verdict"`
	Start     time.Duration               `json:"start"`
	End       time.Duration               `json:"end"`
	Windows   map[string][2]time.Duration `json:"windows"` // steady, during, after: [from, to)
	Faults    []Fault                     `json:"faults"`
	Hold      []string                    `json:"hold,omitempty"`
	Checks    []check.Result              `json:"checks"`
	Stats     []check.Stats               `json:"stats"`    // per journey and window
	Recovery  map[string]time.Duration    `json:"recovery"` // per journey; -1 if it did not recover
	Load      []load.Stats                `json:"load"`
	FaultTier int                         `json:"fault_tier"` // most important tier the faults touched
	Failures  []string                    `json:"failures,omitempty"`
}

// Run is the whole run.
type Run struct {
	ID        string            `json:"id"`
	Platform  string            `json:"platform"`
	Started   time.Time         `json:"started"`
	Duration  time.Duration     `json:"duration"`
	Seed      int64             `json:"seed"`
	Scale     float64           `json:"scale"`
	Rate      float64           `json:"rate"`
	Customers int               `json:"customers"`
	Versions  map[string]string `json:"versions"`
	Verdict   check.Verdict     `json:"verdict"`
	Scenarios []Scenario        `json:"scenarios"`
	Events    int               `json:"events"`
	Ops       int               `json:"ops"`
	StartupMs int64             `json:"startup_ms"`
}

// Save writes r as results.json in dir.
func (r *Run) Save(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644)
}

// Load reads results.json from dir.
func Load(dir string) (*Run, error) {
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		return nil, err
	}
	var r Run
	return &r, json.Unmarshal(b, &r)
}
