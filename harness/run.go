package harness

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/host"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/groundwork/result"
)

// Run runs scenario sc as test t: it validates sc, makes sure the bank is
// up, runs the steady state, the fault schedule and the time after under
// load, drains the queues, judges the history and saves the result. A
// failing check fails t with the check, journey, window and first example.
// Every injected fault is recovered, even if t fails or panics.
func Run(t *testing.T, sc Scenario) {
	t.Helper()
	s := currentSuite(t, "harness.Run")
	if sc.Name == "" {
		sc.Name = t.Name()
	}
	sc.defaults(s.cfg.Scale)
	if err := sc.Validate(); err != nil {
		t.Fatalf("faultline: scenario %s is invalid, nothing was started:\n%v", sc.Name, err)
	}
	if err := s.ensure(); err != nil {
		t.Fatalf("faultline: the bank did not start: %v", err)
	}
	for _, n := range sc.Needs {
		if !n.Has(s.plat) {
			t.Skipf("faultline: %s needs %s; platform %s has none", sc.Name, n.What, s.plat.Name())
		}
	}
	if err := s.gen.Contend(sc.Contention); err != nil {
		t.Fatalf("faultline: scenario %s cannot run, nothing was injected: %v", sc.Name, err)
	}
	defer func() { _ = s.gen.Contend(nil) }()
	res := s.record(t, sc.Name, sc.Runbook, func() result.Scenario { return s.run(t, &sc) })
	if res.Verdict == check.Invalid {
		// What else ran on the machine is the first question about a
		// failure read in a CI log, far from the run folder.
		for _, c := range res.Checks {
			if c.Check == "host" {
				t.Log("host: " + c.Summary)
			}
		}
	}
}

// currentSuite returns the suite harness.Main started, or fails t: what
// (harness.Run, harness.RunSweep) needs it.
func currentSuite(t *testing.T, what string) *suite {
	t.Helper()
	currentMu.Lock()
	s := current
	currentMu.Unlock()
	if s == nil {
		t.Fatalf("faultline: %s needs harness.Main in TestMain", what)
	}
	return s
}

// record runs one scenario of the run (body), keeps its result for the
// run's results, prints its verdict and fails t with each failure. If the
// harness itself panics (after every fault has been recovered by body's
// own deferred recovery), the scenario is saved as unknown with the panic
// as its reason, t fails, and the suite goes on to save and render the run
// instead of dying with no results.
func (s *suite) record(t *testing.T, name, runbook string, body func() result.Scenario) result.Scenario {
	setRunning(name)
	defer setRunning("")
	res := func() (res result.Scenario) {
		defer func() {
			if p := recover(); p != nil {
				res = result.Scenario{Name: name, Runbook: runbook, Verdict: check.Unknown,
					Checks: []check.Result{{Check: "harness", Verdict: check.Unknown, Summary: fmt.Sprintf("the harness failed: %v", p)}}}
				t.Errorf("faultline: the harness failed in %s (faults recovered; verdict unknown): %v\n%s", name, p, debug.Stack())
			}
		}()
		return body()
	}()
	s.mu.Lock()
	s.results = append(s.results, res)
	s.mu.Unlock()
	progress("%s: verdict %s", name, strings.ToUpper(string(res.Verdict)))
	for _, f := range res.Failures {
		t.Error(f)
	}
	return res
}

// injection is one fault as scheduled in this run.
type injection struct {
	step result.Fault
	f    faults.Fault
	env  *faults.Env
	done bool
}

func (s *suite) run(t *testing.T, sc *Scenario) result.Scenario {
	h := s.hist
	total := sc.Duration()
	progress("%s: start (%v: warm-up %v, steady %v, %d faults, after %v)", sc.Name, total.Round(time.Millisecond), Warmup, sc.Steady, len(sc.Faults), sc.After)
	h.AddEvent(history.Event{Scenario: sc.Name, At: h.Now(), Kind: history.Phase, Detail: "warm-up"})
	busy := s.watchHost()
	defer busy() // on a panic too; stopping twice is harmless

	// The load runs until the scenario really ends: a recovery that takes
	// longer than planned (a slow rollout) pushes the end out, and the time
	// after it must still be observed.
	var plans []load.Plan
	for j, r := range sc.rates(s.cfg.Rate, s.cfg.Scale) {
		p := load.Plan{Journey: j, Rate: r, Duration: Warmup + SettleLimit + total + sc.overrun()}
		if to, ok := sc.RampTo[j]; ok {
			// The ramp reaches its target at the planned end, then goes on.
			p.RampTo = r + (to*r/max(sc.baseRate(j), 1e-9)-r)*float64(p.Duration)/float64(Warmup+total)
		}
		plans = append(plans, p)
	}
	sort.Slice(plans, func(i, j int) bool { return plans[i].Journey < plans[j].Journey })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopLoad := s.startLoad(ctx, sc.Name, plans)
	defer stopLoad()
	// The steady state is judged from the end of the warm-up (new
	// connections are set up) once the bank is steady (settle.go).
	warm := h.Now()
	sleepUntil(ctx, h, warm+Warmup)
	waited, steady := s.settle(ctx, sc, warm, plans)
	settle := s.settled(sc, waited, steady)
	inspect := &Inspect{s: s, scenario: sc.Name}
	if left := s.inheritedWork(ctx, inspect); left != "" {
		settle += "; " + left
	}
	start := h.Now()
	h.AddEvent(history.Event{Scenario: sc.Name, At: start, Kind: history.Phase, Detail: "steady"})

	befores := make([]any, len(sc.Checks))
	sleepUntil(ctx, h, start+sc.Steady-200*time.Millisecond)
	for i, c := range sc.Checks {
		if c.Before != nil {
			if err := safeBefore(ctx, c, inspect, &befores[i]); err != nil {
				progress("%s: check %s: baseline: %v", sc.Name, c.Name, err)
			}
		}
	}
	injs := make([]*injection, len(sc.Faults))
	defer s.recoverAll(sc.Name, injs) // on failure and panic too
	guard := s.schedule(ctx, sc, start, injs)
	// The scenario ends when its schedule does; requests still in flight
	// then are waited for (they started before the end) but do not push the
	// end out, or the after window could fall where no request started.
	end := h.Now()
	loadStats := stopLoad()
	h.AddEvent(history.Event{Scenario: sc.Name, At: end, Kind: history.Phase, Detail: "drain"})
	progress("%s: load done; draining queues and auditing the ledger", sc.Name)
	money := s.money(ctx, sc.Name)
	samples, hostErr := busy()
	res := s.judgeLive(sc, start, end, injs, loadStats, money, samples, hostErr)
	res.Settle = settle
	if sc.Abort != nil {
		res.Aborted = guard.reason
		res.Checks = append(res.Checks, guard.result(sc.Abort))
	}
	for i, c := range sc.Checks {
		r := check.Safely(c.Name, func() check.Result { return c.After(ctx, inspect, befores[i]) })
		r.Check = firstNonEmpty(r.Check, c.Name)
		res.Checks = append(res.Checks, withoutFault(r, res.Faults))
	}
	res.Verdict, res.Failures = verdict(res.Checks)
	return res
}

// startLoad runs plans as scenario's load until the returned function is
// called; it returns what the load sent (each call the same).
func (s *suite) startLoad(ctx context.Context, scenario string, plans []load.Plan) func() []load.Stats {
	loadCtx, stop := context.WithCancel(ctx)
	done := make(chan []load.Stats, 1)
	go func() {
		st, err := load.Attack(loadCtx, s.hist, scenario, s.gen, plans)
		if err != nil {
			progress("%s: load: %v", scenario, err)
		}
		done <- st
	}()
	var once sync.Once
	var stats []load.Stats
	return func() []load.Stats {
		once.Do(func() { stop(); stats = <-done })
		return stats
	}
}

// faultChecks judges the faults themselves: one the platform could not
// inject is unknown (nothing was tested under it), one that failed to
// inject, verify or recover is invalid, and one that took hold but did
// nothing is unknown.
func (s *suite) faultChecks(fs []result.Fault) []check.Result {
	var out []check.Result
	for _, f := range fs {
		switch {
		case f.Unsupported:
			out = append(out, check.Result{Check: "fault", Verdict: check.Unknown,
				Summary: fmt.Sprintf("%s: the %s platform cannot inject it, so nothing here was tested under it: %s", f.Name, s.plat.Name(), f.Error)})
		case f.Error != "":
			out = append(out, check.Result{Check: "fault", Verdict: check.Invalid, Summary: f.Name + ": " + f.Error})
		case f.NoEffect != "":
			out = append(out, check.Result{Check: "fault", Verdict: check.Unknown,
				Summary: fmt.Sprintf("%s took hold but did nothing, so nothing here was tested under it: %s", f.Name, f.NoEffect)})
		}
	}
	return out
}

// saveEvidence saves a scenario's money evidence in the run folder and
// returns its file name, or "" if it could not be saved.
func (s *suite) saveEvidence(scenario string, ev result.Evidence) string {
	s.mu.Lock()
	name := fmt.Sprintf("evidence-%02d.json", len(s.results)+1)
	s.mu.Unlock()
	if err := result.SaveEvidence(s.dir, name, ev); err != nil {
		progress("%s: save evidence: %v", scenario, err)
		return ""
	}
	return name
}

// withoutFault makes a scenario's own check unknown when a fault of the
// scenario could not be injected on this platform: such a check looks for
// how the bank met the fault (its retries, its ejections), and there was
// none to meet. What it read is kept in the summary.
func withoutFault(r check.Result, steps []result.Fault) check.Result {
	var missing []string
	for _, f := range steps {
		if f.Unsupported {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) == 0 || r.Verdict == check.Unknown {
		return r
	}
	r.Verdict = check.Unknown
	r.Summary = fmt.Sprintf("not judged: %s was not injected on this platform, so there was nothing for it to act on (it read: %s)",
		strings.Join(missing, ", "), r.Summary)
	return r
}

// schedule injects and recovers each step at its time; it returns when the
// scenario's time is up. If the scenario's abort guard fires, nothing more
// is injected, every fault is recovered at once, and the time after runs
// from there.
func (s *suite) schedule(ctx context.Context, sc *Scenario, start time.Duration, injs []*injection) *guardState {
	h := s.hist
	type action struct {
		at     time.Duration
		i      int
		inject bool
	}
	var acts []action
	for i, st := range sc.Faults {
		acts = append(acts, action{start + sc.Steady + st.At, i, true}, action{start + sc.Steady + st.At + st.For, i, false})
	}
	sort.SliceStable(acts, func(a, b int) bool { return acts[a].at < acts[b].at })
	aborted, abort := context.WithCancel(ctx)
	defer abort()
	watching, stopWatching := context.WithCancel(ctx)
	guard := s.guard(watching, sc, start+sc.Steady, abort)
	var recovering sync.WaitGroup
	for _, a := range acts {
		sleepUntil(aborted, h, a.at)
		if aborted.Err() != nil {
			break
		}
		st := sc.Faults[a.i]
		if a.inject {
			// A fault goes in once every recovery due before it is done:
			// faults in turn each come after the last one's recovery,
			// however long it took.
			recovering.Wait()
			injs[a.i] = s.inject(ctx, sc.Name, a.i, st.Fault)
			continue
		}
		// Each recovery runs on its own: one that waits (for a store node
		// to be healthy again) does not hold back another due meanwhile,
		// which may be what it waits for (the peer a pause holds).
		in := injs[a.i]
		recovering.Go(func() { s.recover(ctx, sc.Name, in) })
	}
	recovering.Wait()
	stopWatching()
	guard.wait()
	end := start + sc.Duration()
	if guard.fired {
		for _, in := range injs {
			s.recover(ctx, sc.Name, in)
		}
		end = guard.at
	}
	// Steady + faults + After as planned (or from the abort), and at least
	// After past the last recovery, however late it came.
	for _, in := range injs {
		if in != nil {
			end = max(end, in.step.Recovered+sc.After)
		}
	}
	sleepUntil(ctx, h, min(end, start+sc.Duration()+sc.overrun()))
	return guard
}

// Warmup is how long each scenario's load runs before its steady window
// begins; it is not judged (its requests still count for money).
const Warmup = time.Second

// MaxOverrun bounds how far late recoveries may push a scenario's end,
// unless one of its faults says its recovery may take longer (overrun).
const MaxOverrun = 3 * time.Minute

// overrun bounds how far late recoveries may push the scenario's end:
// MaxOverrun, or the longest recovery one of its faults may take (a
// rolling restart of five services on Kubernetes, each pod waiting out
// its StatefulSet's minReadySeconds, takes over 4 minutes) with the after
// window past it, so that the load still runs when the recovery ends.
func (sc *Scenario) overrun() time.Duration {
	o := MaxOverrun
	for _, st := range sc.Faults {
		o = max(o, recoveryLimit(st.Fault)+sc.After)
	}
	return o
}

func sleepUntil(ctx context.Context, h *history.History, at time.Duration) {
	if d := at - h.Now(); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
}

func (s *suite) inject(ctx context.Context, scenario string, i int, f faults.Fault) *injection {
	h := s.hist
	env := &faults.Env{Platform: s.plat, Journal: s.journal, Rand: s.rnd, ID: fmt.Sprintf("%s-%s-%d", s.runID, scenario, i+1)}
	// Injected is when the injection began: from then on the fault may act,
	// and requests in flight belong to its window.
	in := &injection{f: f, env: env, step: result.Fault{Name: f.Name(), ID: env.ID, Injected: h.Now()}}
	if tg, ok := f.(faults.Targeted); ok {
		in.step.Services = tg.Services()
	}
	s.mu.Lock()
	s.injected[env.ID] = func() { _ = f.Recover(context.Background(), env) }
	s.mu.Unlock()
	err := noPanic(func() error { return f.Inject(ctx, env) })
	if err != nil {
		in.step.Error = "inject: " + err.Error()
		in.step.Unsupported = errors.Is(err, faults.ErrUnsupported)
		progress("%s: inject %s FAILED: %v", scenario, f.Name(), err)
	} else {
		var ev string
		verr := noPanic(func() (err error) { ev, err = f.Verify(ctx, env); return err })
		in.step.Evidence = ev
		if verr != nil {
			in.step.Error = "verify: " + verr.Error()
		}
		progress("%s: injected %s (%s)", scenario, f.Name(), firstNonEmpty(ev, in.step.Error))
	}
	h.AddEvent(history.Event{Scenario: scenario, At: in.step.Injected, Kind: history.FaultInjected, Target: f.Name(), Detail: firstNonEmpty(in.step.Evidence, in.step.Error)})
	return in
}

// slowRecovery is a fault whose recovery can take longer than most, and
// says how long at most (a rollout of many instances).
type slowRecovery interface{ RecoveryLimit() time.Duration }

// recoveryLimit bounds a fault's Recover: 90 s, or what the fault says its
// recovery may take when that is longer.
func recoveryLimit(f faults.Fault) time.Duration {
	const limit = 90 * time.Second
	if sr, ok := f.(slowRecovery); ok {
		return max(limit, sr.RecoveryLimit())
	}
	return limit
}

func (s *suite) recover(ctx context.Context, scenario string, in *injection) {
	if in == nil || in.done {
		return
	}
	in.done = true
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recoveryLimit(in.f))
	defer cancel()
	if r, ok := in.f.(faults.Reporter); ok {
		var rep string
		err := noPanic(func() (err error) { rep, err = r.Report(rctx, in.env); return err })
		switch {
		case errors.Is(err, faults.ErrNoEffect):
			in.step.NoEffect = err.Error()
		case err == nil && rep != "":
			in.step.Evidence = strings.TrimPrefix(in.step.Evidence+"; by the end: "+rep, "; ")
		}
	}
	err := noPanic(func() error { return in.f.Recover(rctx, in.env) })
	in.step.Recovered = s.hist.Now()
	detail := "recovered"
	if err != nil {
		in.step.Error = strings.TrimPrefix(in.step.Error+"; recover: "+err.Error(), "; ")
		detail = err.Error()
	}
	s.mu.Lock()
	delete(s.injected, in.env.ID)
	s.mu.Unlock()
	s.hist.AddEvent(history.Event{Scenario: scenario, At: in.step.Recovered, Kind: history.FaultRecovered, Target: in.f.Name(), Detail: detail})
	progress("%s: %s %s", scenario, detail, in.f.Name())
}

func (s *suite) recoverAll(scenario string, injs []*injection) {
	for _, in := range injs {
		s.recover(context.Background(), scenario, in)
	}
}

// noPanic runs one step of a fault (inject, verify, report, recover) and
// turns a panic in it into an error, so that the fault is still recorded
// and recovered, and the faults after it too.
func noPanic(step func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return step()
}

// safeBefore takes a scenario check's baseline; a panic is an error (the
// check's After then sees a nil baseline and says unknown).
func safeBefore(ctx context.Context, c Check, in *Inspect, out *any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("baseline failed: %v", p)
		}
	}()
	*out, err = c.Before(ctx, in)
	return err
}

// judgeLive judges a scenario that has just run: it saves the money
// evidence in the run folder, judges the history by the scenario's plan
// (Judge), and adds the checks only a live run can make: faults that failed
// to inject, verify or recover, and faults left injected.
func (s *suite) judgeLive(sc *Scenario, start, end time.Duration, injs []*injection, ls []load.Stats, money moneyState, samples []host.Sample, hostErr error) result.Scenario {
	res := result.Scenario{Name: sc.Name, Runbook: sc.Runbook, Start: start, End: end, Hold: sc.Hold,
		Load: ls, Windows: map[string][2]time.Duration{}, Host: samples}
	if hostErr != nil {
		res.HostError = hostErr.Error()
	}
	var healing []bool
	for _, in := range injs {
		if in == nil {
			continue
		}
		res.Faults = append(res.Faults, in.step)
		sh, ok := in.f.(SelfHealing)
		healing = append(healing, ok && sh.SelfHealing())
	}
	res.FaultTier, _ = sc.faultTier()
	p := plan(sc, start, end, res.Faults, healing, ls)
	res.Plan = &p
	ops := s.hist.Ops(sc.Name)
	ev := money.evidence(ops)
	res.Evidence = s.saveEvidence(sc.Name, ev)
	res.Checks = append(res.Checks, s.faultChecks(res.Faults)...)
	res.Checks = append(res.Checks, check.Safely("leftovers", s.leftovers))
	return Judge(res, ops, ev)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
