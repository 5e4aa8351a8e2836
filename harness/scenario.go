package harness

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/topology"
)

// Scenario is one experiment, readable as a runbook.
type Scenario struct {
	// Name defaults to the test's name.
	Name string
	// Runbook says in plain words what is done and what is expected.
	Runbook string
	// Steady is the fault-free time before the first fault (DefaultSteady).
	Steady time.Duration
	// Faults is the fault schedule, offsets from the end of Steady.
	Faults []Step
	// After is the fault-free time after the last recovery (DefaultAfter).
	After time.Duration
	// Load overrides DefaultLoad per journey; a rate of 0 drops a journey.
	Load map[string]float64
	// RampTo makes a journey's rate rise linearly from its Load rate to this
	// one over the scenario (open model: arrivals do not wait for answers).
	RampTo map[string]float64
	// Hold lists journeys whose SLO must hold while the faults are on.
	Hold []string
	// HoldSLO overrides HoldSLO per journey.
	HoldSLO map[string]check.SLO
	// MaxRecovery bounds every journey's recovery time (DefaultMaxRecovery).
	MaxRecovery time.Duration
	// Contention, when set, concentrates card authorisations and payments
	// on a few accounts held at their limit (see load.Contention).
	Contention *load.Contention
	// Checks are the scenario's own expectations.
	Checks []Check
	// Unscaled keeps the scenario's durations as written whatever
	// FAULTLINE_SCALE or -short say, for schedules bound to physical times
	// (store elections take 4-9 s however short the run).
	Unscaled bool
	// Abort, when set, stops the faults early if a journey falls under a
	// floor while they are on (see Abort).
	Abort *Abort
	// Needs names what the scenario means nothing without (NeedNodes,
	// NeedPods): on a platform that lacks one it skips, with the reason
	// (the local platform has neither nodes nor pods).
	Needs []Need

	givenAfter time.Duration // After as written, before scaling and defaults
}

// Step is one fault of a schedule: injected At after the steady state and
// recovered For later.
type Step struct {
	At    time.Duration
	For   time.Duration
	Fault faults.Fault
}

// SelfHealing is implemented by faults the platform repairs by itself (a
// killed instance is restarted): their recovery time counts from injection.
type SelfHealing interface{ SelfHealing() bool }

func (s *Scenario) defaults(scale float64) {
	s.givenAfter = s.After
	if s.Unscaled {
		scale = 1
	}
	sc := func(d time.Duration) time.Duration { return time.Duration(float64(d) * scale) }
	if s.Steady == 0 {
		s.Steady = sc(DefaultSteady)
	} else {
		s.Steady = sc(s.Steady)
	}
	if s.After == 0 {
		s.After = sc(DefaultAfter)
	} else {
		s.After = sc(s.After)
	}
	if s.MaxRecovery == 0 {
		s.MaxRecovery = DefaultMaxRecovery
	} else if s.MaxRecovery > 0 {
		// A recovery bound the scenario chose is physical (an election
		// timeout, say) and is not scaled: leave time to observe it.
		s.After = max(s.After, s.MaxRecovery+2*time.Second)
	}
	for i := range s.Faults {
		s.Faults[i].At, s.Faults[i].For = sc(s.Faults[i].At), sc(s.Faults[i].For)
	}
	sort.SliceStable(s.Faults, func(i, j int) bool { return s.Faults[i].At < s.Faults[j].At })
}

// Duration is the scenario's length: steady, faults, after.
func (s *Scenario) Duration() time.Duration {
	end := time.Duration(0)
	for _, f := range s.Faults {
		end = max(end, f.At+f.For)
	}
	return s.Steady + end + s.After
}

// Validate rejects a bad scenario before anything is started or injected.
// It collects every problem into one error.
func (s *Scenario) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Steady < 0 || s.After < 0 {
		bad("steady and after must not be negative")
	}
	if len(s.Faults) == 0 {
		bad("no faults: a scenario needs at least one step")
	}
	for i, st := range s.Faults {
		switch {
		case st.Fault == nil:
			bad("fault %d: no fault", i+1)
			continue
		case st.At < 0:
			bad("fault %d (%s): negative start %v", i+1, st.Fault.Name(), st.At)
		case st.For <= 0:
			bad("fault %d (%s): no recovery time (For must be positive)", i+1, st.Fault.Name())
		}
		if err := st.Fault.Validate(); err != nil {
			bad("fault %d (%s): %w", i+1, st.Fault.Name(), err)
		}
	}
	for j, r := range s.Load {
		if _, ok := load.LookupJourney(j); !ok {
			bad("load: unknown journey %q", j)
		} else if r < 0 || r > 20000 {
			bad("load: journey %s rate %v must be in [0, 20000]", j, r)
		}
	}
	for _, j := range s.Hold {
		if _, ok := load.LookupJourney(j); !ok {
			bad("hold: unknown journey %q", j)
		}
	}
	for j, slo := range s.HoldSLO {
		if err := slo.Validate(); err != nil {
			bad("hold SLO of %s: %w", j, err)
		}
	}
	for i, c := range s.Checks {
		if c.Name == "" || c.After == nil {
			bad("check %d: needs a name and an After function", i+1)
		}
	}
	if err := s.Abort.validate(); err != nil {
		bad("%w", err)
	}
	if s.MaxRecovery < 0 {
		bad("max recovery must not be negative")
	}
	if s.MaxRecovery > time.Minute {
		bad("max recovery %v is longer than a minute", s.MaxRecovery)
	}
	if s.givenAfter > 0 && s.MaxRecovery > s.givenAfter {
		bad("recovery window %v is longer than the time after the faults (After %v): recovery could never be judged", s.MaxRecovery, s.givenAfter)
	}
	for j, r := range s.RampTo {
		if _, ok := load.LookupJourney(j); !ok {
			bad("ramp: unknown journey %q", j)
		} else if r <= 0 || r > 20000 {
			bad("ramp: journey %s target rate %v must be in (0, 20000]", j, r)
		}
	}
	return errors.Join(errs...)
}

// rates returns the scenario's load per journey, each multiplied by rate.
// When the scenario's durations were shortened (scale < 1), each journey
// is also raised by 1/scale, up to ShortRateFloor requests per second, so
// that even a light journey's shortest window holds enough requests to be
// judged; the heavy journeys keep their rates, since two cores cannot carry
// the whole load raised by 1/scale (at 2.5x the bank queued: steady
// payments at p99 400-650 ms, and 14 of 19 scenarios failed).
func (s *Scenario) rates(rate, scale float64) map[string]float64 {
	raise := func(r float64) float64 { return r }
	if scale < 1 && !s.Unscaled {
		raise = func(r float64) float64 { return max(r, min(r/scale, ShortRateFloor)) }
	}
	out := map[string]float64{}
	for j, r := range DefaultLoad {
		out[j] = raise(r) * rate
	}
	for j, r := range s.Load {
		out[j] = raise(r) * rate
	}
	for j, r := range out {
		if r == 0 {
			delete(out, j)
		}
	}
	return out
}

// faultTiers returns the most important tier among the faults' targets, and
// whether every fault declared its targets.
func (s *Scenario) faultTier() (int, bool) {
	tier, known := 99, true
	for _, st := range s.Faults {
		t, ok := st.Fault.(faults.Targeted)
		if !ok {
			known = false
			continue
		}
		for _, svc := range t.Services() {
			if svc == topology.Store || svc == "client" {
				tier = min(tier, 0)
				continue
			}
			sv, ok := topology.Lookup(svc)
			if !ok {
				known = false
				continue
			}
			tier = min(tier, sv.Tier)
		}
	}
	return tier, known
}

// ShortRateFloor is the rate a shortened run raises light journeys to.
const ShortRateFloor = 10

// baseRate is journey j's rate as the scenario wrote it, before any
// multiplier.
func (s *Scenario) baseRate(j string) float64 {
	if r, ok := s.Load[j]; ok {
		return r
	}
	return DefaultLoad[j]
}

// Need is a platform capability a scenario cannot run without.
type Need struct {
	What string // what the platform must have, for the skip's reason
	Has  func(platform.Platform) bool
}

// Needs of scenarios that exist only where the bank runs in a cluster.
var (
	NeedNodes = Need{"whole nodes to fail", func(p platform.Platform) bool { _, ok := p.(platform.Nodes); return ok }}
	NeedPods  = Need{"pods to delete", func(p platform.Platform) bool { _, ok := p.(platform.Pods); return ok }}
	// NeedDisks: a fault filesystem under the store nodes (on the local
	// platform FAULTLINE_FAULTFS=on). The scenarios that need it damage
	// the store of the bank every scenario shares.
	NeedDisks = Need{"a fault filesystem under the store nodes (FAULTLINE_FAULTFS=on)", func(p platform.Platform) bool {
		d, ok := p.(platform.Disks)
		if !ok {
			return false
		}
		_, err := d.Disk(topology.Store + "-0")
		return err == nil
	}}
)
