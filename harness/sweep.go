package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/system/topology"
)

// Sweep is the blast-radius sweep: every kind of fault of SweepKinds on
// every target in turn, on the one bank, under the standard mixed load.
// Each cell waits until the bank is steady, takes Baseline of it as the
// reference, injects the fault for Window, recovers it, and waits until
// the bank is steady again and its deferred work has caught up before the
// next; it records, per customer feature, the change in success and p99
// and the recovery time, graded by Thresholds. Over the whole sweep it
// checks the tier contracts (sweepjudge.go), compares each feature's
// measured critical path with the declared one, and audits the money.
type Sweep struct {
	// Name defaults to the test's name.
	Name string
	// Targets are services of the mesh description, or store nodes
	// (store-0...); every service by default (FAULTLINE_SWEEP_TARGETS).
	Targets []string
	// Kinds names SweepKinds to run; all of them by default
	// (FAULTLINE_SWEEP_FAULTS).
	Kinds []string
	// Baseline is the reference window before each fault (SweepBaseline),
	// Window how long each fault stays on (SweepWindow, scaled by
	// FAULTLINE_SCALE; 3 s in -short, 2 s at least).
	Baseline, Window time.Duration
	// Thresholds grade each cell (check.DefaultThresholds;
	// FAULTLINE_SWEEP_THRESHOLDS, JSON, overrides fields).
	Thresholds check.Thresholds
	// MaxBack bounds the wait after each cell for a steady bank whose
	// deferred work has caught up (SweepMaxBack).
	MaxBack time.Duration
}

// Defaults of a sweep.
const (
	SweepBaseline = 3 * time.Second
	SweepWindow   = 5 * time.Second
	SweepMaxBack  = 30 * time.Second
	// SweepRateFloor raises the lightest journeys of the standard load so
	// that a fault window holds enough of their requests to grade (at 5/s a
	// baseline of 3 s held 15, too few to tell a degraded feature from
	// chance; about 120 requests a second in all).
	SweepRateFloor = 10
)

func (sw *Sweep) defaults(scale float64, short bool) error {
	var errs []error
	if sw.Targets == nil {
		if v := os.Getenv("FAULTLINE_SWEEP_TARGETS"); v != "" {
			sw.Targets = strings.Split(v, ",")
		} else {
			for _, s := range topology.Services {
				sw.Targets = append(sw.Targets, s.Name)
			}
		}
	}
	if sw.Kinds == nil {
		if v := os.Getenv("FAULTLINE_SWEEP_FAULTS"); v != "" {
			sw.Kinds = strings.Split(v, ",")
		} else {
			for _, k := range SweepKinds {
				sw.Kinds = append(sw.Kinds, k.Name)
			}
		}
	}
	if short {
		scale = min(scale, 0.6)
	}
	if sw.Baseline == 0 {
		sw.Baseline = SweepBaseline
	}
	if sw.Window == 0 {
		sw.Window = max(2*time.Second, time.Duration(float64(SweepWindow)*scale))
	}
	if sw.MaxBack == 0 {
		sw.MaxBack = SweepMaxBack
	}
	if sw.Thresholds == (check.Thresholds{}) {
		sw.Thresholds = check.DefaultThresholds
		if v := os.Getenv("FAULTLINE_SWEEP_THRESHOLDS"); v != "" {
			dec := json.NewDecoder(strings.NewReader(v))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&sw.Thresholds); err != nil {
				errs = append(errs, fmt.Errorf("FAULTLINE_SWEEP_THRESHOLDS=%q: %w", v, err))
			}
		}
	}
	return errors.Join(errs...)
}

// sweepScale is the scale the sweep's window takes: FAULTLINE_SCALE when
// set; not -short's own 0.4 (defaults shortens the window for -short).
func sweepScale(cfg Config) float64 {
	if os.Getenv("FAULTLINE_SCALE") != "" {
		return cfg.Scale
	}
	return 1
}

// Check fills in sw's defaults as a run would and validates it, so that
// a command can refuse bad input before it starts anything.
func (sw *Sweep) Check(short bool) error {
	c := *sw
	cfg, err := LoadConfig(short)
	if err != nil {
		return err
	}
	return errors.Join(c.defaults(sweepScale(cfg), short), c.Validate())
}

// Validate rejects a bad sweep before anything is started.
func (sw *Sweep) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(sw.Targets) == 0 || len(sw.Kinds) == 0 {
		bad("a sweep needs at least one target and one kind of fault")
	}
	for _, t := range sw.Targets {
		if isStoreNode(t) {
			var n int
			if _, err := fmt.Sscanf(t, topology.Store+"-%d", &n); err != nil || n < 0 || n >= topology.StoreNodes || t != fmt.Sprintf("%s-%d", topology.Store, n) {
				bad("target %q: store nodes are %s-0 to %s-%d", t, topology.Store, topology.Store, topology.StoreNodes-1)
			}
			continue
		}
		if _, ok := topology.Lookup(t); !ok {
			bad("target %q: not a service of the mesh description, nor a store node", t)
		}
	}
	for _, k := range sw.Kinds {
		if _, ok := LookupSweepKind(k); !ok {
			var names []string
			for _, k := range SweepKinds {
				names = append(names, k.Name)
			}
			bad("fault kind %q: the sweep has %s", k, strings.Join(names, ", "))
		}
	}
	if sw.Baseline < time.Second || sw.Window < time.Second {
		bad("baseline %v and window %v must each be at least 1s", sw.Baseline, sw.Window)
	}
	if sw.MaxBack < 5*time.Second {
		bad("max back %v must be at least 5s", sw.MaxBack)
	}
	if err := sw.Thresholds.Validate(); err != nil {
		bad("thresholds: %w", err)
	}
	return errors.Join(errs...)
}

// cells lays out the sweep, target by target; a cell whose kind cannot
// act on its target is kept, with the reason, so the matrix shows it.
func (sw *Sweep) cells() []result.Cell {
	var out []result.Cell
	for _, t := range sw.Targets {
		for _, k := range sw.Kinds {
			kind, _ := LookupSweepKind(k)
			f, why := kind.Fault(t)
			c := result.Cell{Target: t, Kind: k, Skipped: why}
			if f != nil {
				c.Fault.Name = f.Name()
			}
			out = append(out, c)
		}
	}
	return out
}

// RunSweep runs sw as test t. It fails t when a tier contract is
// breached, when the bank is not back after a cell, when deferred work
// did not catch up, or when money is wrong; every fault is recovered even
// if t fails or panics.
func RunSweep(t *testing.T, sw Sweep) {
	t.Helper()
	s := currentSuite(t, "harness.RunSweep")
	if sw.Name == "" {
		sw.Name = t.Name()
	}
	if err := errors.Join(sw.defaults(sweepScale(s.cfg), testing.Short()), sw.Validate()); err != nil {
		t.Fatalf("faultline: sweep %s is invalid, nothing was started:\n%v", sw.Name, err)
	}
	if err := s.ensure(); err != nil {
		t.Fatalf("faultline: the bank did not start: %v", err)
	}
	s.record(t, sw.Name, sw.runbook(), func() result.Scenario { return s.sweep(&sw) })
}

func (sw *Sweep) runbook() string {
	return fmt.Sprintf(`Blast-radius sweep: on each of %d targets, each of %d kinds of fault in turn
(%s), %v on after %v of steady state, under the standard mixed load.
Expect (tier contracts): no fault on a tier 2-3 service degrades a tier 0-1
feature; no single-instance fault (one replica, one store node) degrades a
tier 0 feature. After each fault the bank is steady again and its deferred
work caught up within %v; at the end no money is lost.`,
		len(sw.Targets), len(sw.Kinds), strings.Join(sw.Kinds, ", "), sw.Window, sw.Baseline, sw.MaxBack)
}

// sweepPlans is the sweep's load: the standard mix, light journeys raised
// to SweepRateFloor, at the run's rate, for as long as it takes.
func (s *suite) sweepPlans() []load.Plan {
	var plans []load.Plan
	for j, r := range DefaultLoad {
		plans = append(plans, load.Plan{Journey: j, Rate: max(r*s.cfg.Rate, SweepRateFloor), Duration: 24 * time.Hour})
	}
	sort.Slice(plans, func(i, j int) bool { return plans[i].Journey < plans[j].Journey })
	return plans
}

func (s *suite) sweep(sw *Sweep) result.Scenario {
	h := s.hist
	cells := sw.cells()
	runnable := 0
	for _, c := range cells {
		if c.Skipped == "" {
			runnable++
		}
	}
	perCell := sw.Baseline + sw.Window + 4*time.Second
	progress("%s: start: %d cells on %d targets (%d cannot apply), about %v at %v each", sw.Name, runnable,
		len(sw.Targets), len(cells)-runnable, (time.Duration(runnable) * perCell).Round(time.Minute), perCell)
	busy := s.watchHost()
	defer busy() // on a panic too; stopping twice is harmless
	plans := s.sweepPlans()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopLoad := s.startLoad(ctx, sw.Name, plans)
	defer stopLoad()
	warm := h.Now()
	sleepUntil(ctx, h, warm+Warmup)
	in := &Inspect{s: s, scenario: sw.Name}
	s.inheritedWork(ctx, in)
	start := h.Now()
	h.AddEvent(history.Event{Scenario: sw.Name, At: start, Kind: history.Phase, Detail: "steady"})
	// A cell run again (Cell.Again) takes the slot len(cells)+i.
	injs := make([]*injection, 2*len(cells))
	defer s.recoverAll(sw.Name, injs)
	last := start // where the last cell's effects end (at first, the warm-up's)
	// run runs the fault of cell c in injs' slot: a steady bank, the
	// baseline, the fault for the window, the wait until the bank is back,
	// and the judgement of every feature.
	run := func(c *result.Cell, slot int) {
		if !s.waitSteady(ctx, sw.Name, plans, last, h.Now()+sw.MaxBack) {
			c.Unsteady = fmt.Sprintf("not steady %v after the last cell", sw.MaxBack)
		}
		// The steady windows just seen are the start of the baseline.
		base := max(last, h.Now()-settleMargin-steadySpan)
		sleepUntil(ctx, h, base+sw.Baseline)
		kind, _ := LookupSweepKind(c.Kind)
		f, _ := kind.Fault(c.Target)
		injs[slot] = s.inject(ctx, sw.Name, slot, f)
		sleepUntil(ctx, h, injs[slot].step.Injected+sw.Window)
		s.recover(ctx, sw.Name, injs[slot])
		c.Fault = injs[slot].step
		ref := c.Fault.Recovered
		if sh, ok := f.(SelfHealing); ok && sh.SelfHealing() {
			ref = c.Fault.Injected
		}
		steady := s.waitSteady(ctx, sw.Name, plans, c.Fault.Recovered, h.Now()+sw.MaxBack)
		catchingUp, caught := s.caughtUpAll(ctx, in, max(0, sw.MaxBack-(h.Now()-c.Fault.Recovered)), sw.MaxBack)
		c.Back = h.Now() - c.Fault.Recovered
		switch {
		case !steady:
			c.BackError = fmt.Sprintf("the bank was not steady within %v of the recovery", sw.MaxBack)
		case caught != nil:
			c.BackError, c.CatchingUp = "deferred work did not catch up: "+caught.Error(), catchingUp
		}
		last = h.Now()
		c.Features = judgeCell(h.Ops(sw.Name), plans, base, c.Fault.Injected, c.Fault.Recovered, ref, last, sw.Thresholds)
	}
	done := 0
	for i := range cells {
		c := &cells[i]
		if c.Skipped != "" {
			continue
		}
		done++
		run(c, i)
		progress("%s: %d/%d %s %s: %s; back in %v%s", sw.Name, done, runnable, c.Kind, c.Target, cellLine(c),
			c.Back.Round(100*time.Millisecond), prefixed("; ", c.BackError))
		if breaches, _ := contracts([]result.Cell{*c}, nil); len(breaches) > 0 {
			progress("%s: %s %s breached a tier contract; running it again to see whether it does every time", sw.Name, c.Kind, c.Target)
			second := &result.Cell{Target: c.Target, Kind: c.Kind}
			run(second, len(cells)+i)
			c.Again = second
			progress("%s: %d/%d %s %s again: %s; back in %v%s", sw.Name, done, runnable, c.Kind, c.Target, cellLine(second),
				second.Back.Round(100*time.Millisecond), prefixed("; ", second.BackError))
		}
	}
	end := h.Now()
	loadStats := stopLoad()
	h.AddEvent(history.Event{Scenario: sw.Name, At: end, Kind: history.Phase, Detail: "drain"})
	progress("%s: load done; draining queues and auditing the ledger", sw.Name)
	money := s.money(ctx, sw.Name)
	samples, hostErr := busy()
	ops := h.Ops(sw.Name)
	res := result.Scenario{Name: sw.Name, Runbook: sw.runbook(), Start: start, End: end, Load: loadStats,
		Windows: map[string][2]time.Duration{}, Recovery: map[string]time.Duration{}, Host: samples, FaultTier: -1}
	if hostErr != nil {
		res.HostError = hostErr.Error()
	}
	for _, c := range cells {
		if c.Skipped == "" {
			res.Faults = append(res.Faults, c.Fault)
		}
	}
	sr := &result.Sweep{Thresholds: sw.Thresholds, Baseline: sw.Baseline, Window: sw.Window, Cells: cells}
	sr.Paths = measuredPaths(cells)
	breaches, unjudged := contracts(cells, samples)
	sr.Findings = append(breaches, pathFindings(cells, sr.Paths)...)
	sr.Findings = append(sr.Findings, notBack(cells)...)
	res.Sweep = sr
	ev := money.evidence(ops)
	res.Evidence = s.saveEvidence(sw.Name, ev)
	res.Checks = append(res.Checks, contractCheck(breaches, unjudged), backCheck(cells))
	res.Checks = append(res.Checks, s.faultChecks(res.Faults)...)
	for _, st := range loadStats {
		res.Checks = append(res.Checks, loadCheck(st))
	}
	res.Checks = append(res.Checks,
		check.Safely("money", func() check.Result { return moneyCheck(ops, ev) }),
		check.Safely("answers", func() check.Result { return check.Answers(ops) }),
		check.Safely("card-answers", func() check.Result { return cardAnswersCheck(ev) }),
		check.Safely("stand-in", func() check.Result { return standInCheck(ev) }),
		check.Safely("feeds", func() check.Result {
			r := FeedsCaughtUp(ctx, in, nil)
			r.Check = "feeds"
			return r
		}),
		check.Safely("leftovers", s.leftovers))
	res.Verdict, res.Failures = verdict(res.Checks)
	return res
}

// judgeCell grades each journey of plans in one cell: its requests from
// base to the injection against those from the injection to the
// recovery, and its recovery time from ref (until end).
func judgeCell(ops []history.Op, plans []load.Plan, base, injected, recovered, ref, end time.Duration, th check.Thresholds) []result.FeatureEffect {
	span := check.Span{From: injected, To: recovered}
	var out []result.FeatureEffect
	for _, p := range plans {
		before := check.Compute(ops, p.Journey, check.Window{Name: "before", From: base, To: injected, Faults: &span})
		during := check.Compute(ops, p.Journey, check.Window{Name: check.During, From: injected, To: recovered, Faults: &span})
		e := result.FeatureEffect{Feature: p.Journey, Before: before, During: during,
			Drop: before.Success - during.Success, P99Delta: during.P99 - before.P99, Recovery: -1}
		e.Effect, e.Why = th.Classify(before, during)
		if d, ok := check.Recovery(ops, p.Journey, ref, end, RecoverySLO); ok {
			e.Recovery = d
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b result.FeatureEffect) int { return featureOrder(a.Feature) - featureOrder(b.Feature) })
	return out
}

// featureOrder is a feature's place in the mesh description's list.
func featureOrder(name string) int {
	return slices.IndexFunc(topology.Features, func(f topology.Feature) bool { return f.Name == name })
}

// cellLine says in a few words what a cell did, for the progress line.
func cellLine(c *result.Cell) string {
	var hurt []string
	for _, f := range c.Features {
		if f.Effect == check.Degraded || f.Effect == check.Broken {
			hurt = append(hurt, fmt.Sprintf("%s %s (%s)", f.Feature, f.Effect, f.Why))
		}
	}
	if c.Unsteady != "" {
		return "not judged: " + c.Unsteady
	}
	if len(hurt) == 0 {
		return "no feature hurt"
	}
	return strings.Join(hurt, ", ")
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
