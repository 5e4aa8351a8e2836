// Package result is the saved form of a run: results.json, its schema and
// how to read and write it. The harness writes it; reports and the CLI read
// it. Field names and units are stable (durations are nanoseconds).
package result

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/host"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/system/transactions"
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
	// Unsupported: the platform lacks a capability the fault needs, so it
	// was never injected; its scenario cannot be judged on it (unknown).
	Unsupported bool `json:"unsupported,omitempty"`
	// NoEffect: the fault took hold but did nothing over its window (a CPU
	// limit its targets never reached), so nothing was tested under it
	// (unknown); it says why.
	NoEffect string `json:"no_effect,omitempty"`
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
	// Plan is what the checks held the history to, so that `faultline
	// report -rejudge` can judge the saved history again.
	Plan *Plan `json:"plan,omitempty"`
	// Evidence names the file in the run folder holding the money
	// evidence (the ledger audit) the checks read.
	Evidence string `json:"evidence,omitempty"`
	// Host is how busy the machine was with work outside the run while the
	// scenario ran; HostError says why it could not be measured.
	Host      []host.Sample `json:"host,omitempty"`
	HostError string        `json:"host_error,omitempty"`
	// Aborted says why the scenario's abort guard stopped its faults early
	// (harness.Abort), when it did.
	Aborted string `json:"aborted,omitempty"`
	// Settle says how long the warm-up went on before the bank was steady
	// and the steady window began (harness.SettleLimit).
	Settle string `json:"settle,omitempty"`
	// Sweep is the blast-radius sweep's matrix, when the scenario is the
	// sweep (it has no Plan: its cells are judged as they run).
	Sweep *Sweep `json:"sweep,omitempty"`
}

// Plan is what a scenario's history is judged against: its windows and the
// objective of each journey in each window.
type Plan struct {
	Faults       check.Span    `json:"faults"`        // first injection began, last recovery done
	AfterLen     time.Duration `json:"after_len"`     // the planned time after the faults
	RecoveryFrom time.Duration `json:"recovery_from"` // recovery times count from here
	MaxRecovery  time.Duration `json:"max_recovery"`
	Objectives   []Objective   `json:"objectives"`
	Contended    bool          `json:"contended,omitempty"` // the load raced on a few accounts at their limit
}

// Objective is one journey's SLO in one window. Check is "slo", or
// "tier-contract" where the scenario's fault tier forbids the journey to move.
type Objective struct {
	Journey string    `json:"journey"`
	Window  string    `json:"window"`
	Check   string    `json:"check"`
	SLO     check.SLO `json:"slo"`
	Note    string    `json:"note,omitempty"` // said before the SLO's own summary
	// Informational marks an objective whose unknown verdict (too few
	// requests) does not make the scenario unknown: the steady and after
	// windows of journeys the scenario does not hold.
	Informational bool `json:"informational,omitempty"`
}

// Evidence is the money evidence saved with a scenario: the ledger audit
// after the queues drained (its per-key summaries cut to the keys the
// scenario used), the balance service's disagreements with it, and why it
// could not be read, if it could not.
type Evidence struct {
	Audit      transactions.Audit `json:"audit"`
	Mismatches []string           `json:"mismatches,omitempty"`
	Error      string             `json:"error,omitempty"`
	Drained    time.Duration      `json:"drained"`
	// CatchingUp says the wait for the bank's deferred work ended at its
	// limit while the bank was still working through it (what it had left
	// kept shrinking): findings that work may yet clear are then unknown,
	// not invalid (see check.Money). False when the wait ended because
	// nothing was left, or because nothing had moved for a while.
	CatchingUp bool `json:"catching_up,omitempty"`
	// Left is how many such findings were left when the wait ended.
	Left int `json:"left,omitempty"`
	// CardAnswers are the answers card-api recorded for the scenario's
	// messages; AnswersError says why they could not be read.
	CardAnswers  []check.CardAnswer `json:"card_answers,omitempty"`
	AnswersError string             `json:"answers_error,omitempty"`
	// StandInBound is the most card-api's stand-in may take an account
	// below its limit, in pence: its per-account cap times its replicas
	// (check.StandInExposure).
	StandInBound int64 `json:"stand_in_bound,omitempty"`
}

// SaveEvidence writes e to name in dir, readable only by its owner.
func SaveEvidence(dir, name string, e Evidence) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), b, 0o600)
}

// LoadEvidence reads the evidence file name in dir.
func LoadEvidence(dir, name string) (Evidence, error) {
	var e Evidence
	b, err := os.ReadFile(filepath.Join(dir, filepath.Base(name)))
	if err != nil {
		return e, err
	}
	return e, json.Unmarshal(b, &e)
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
	return os.WriteFile(filepath.Join(dir, "results.json"), b, 0o600)
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
