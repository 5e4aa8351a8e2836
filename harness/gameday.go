package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/host"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/groundwork/result"
)

// GameDay is a bank kept up under the standard load for engineers to break
// by hand: `faultline up` starts one and serves its control socket
// (gamedayctl.go); `faultline inject`, `status`, `recover` and `down` talk
// to it. Each fault is injected, journaled and recovered as a scenario's
// is: when its time is up, when asked, or at Down (and, if up is killed
// outright, by the next run's reap of the journal). Down judges the
// session like a scenario (the steady state before the first fault, the
// faults, the time after; money, answers and leftovers held) and saves it
// as a run that `faultline report` renders.
type GameDay struct {
	s      *suite
	start  time.Duration
	stop   func() []load.Stats
	cancel context.CancelFunc
	busy   func() ([]host.Sample, error)

	mu         sync.Mutex
	faults     []*dayFault
	injections int // asked for so far: the next fault's id
	downed     bool
	inflight   sync.WaitGroup // injections under way

	downOnce sync.Once
	downRes  result.Scenario
	downErr  error
}

// GameDayName is the scenario name a game day's history and result carry.
const GameDayName = "GameDay"

// dayFault is one fault of a game day.
type dayFault struct {
	id           string
	kind, target string
	lasts        time.Duration // 0: until recovered by hand or at Down
	in           *injection    // nil while it is being injected
	st           FaultState    // as of the last inject or recover
	claimed      bool          // a recovery has begun
	timer        *time.Timer
}

// FaultState is what status shows of one fault of a game day.
type FaultState struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Kind      string        `json:"kind"`
	Target    string        `json:"target"`
	Injected  time.Duration `json:"injected"`            // offset from the run's start
	Lasts     time.Duration `json:"lasts,omitempty"`     // recovered by itself this long after injection
	Left      time.Duration `json:"left,omitempty"`      // until then
	Recovered time.Duration `json:"recovered,omitempty"` // 0 while on
	Evidence  string        `json:"evidence,omitempty"`
	Error     string        `json:"error,omitempty"`
}

// On reports whether the fault is still injected.
func (f FaultState) On() bool { return f.Recovered == 0 }

// JourneyNow is one journey's figures over the last LiveEvery.
type JourneyNow struct {
	Journey string        `json:"journey"`
	Rate    float64       `json:"rate"`
	Success float64       `json:"success"`
	P99     time.Duration `json:"p99"`
	Count   int           `json:"count"`
}

// LiveEvery is how often `faultline up` prints its journeys, and the
// window each line covers.
const LiveEvery = 5 * time.Second

// UpGameDay starts the bank on the configured platform (FAULTLINE_* as
// for the scenarios), seeds it and starts the standard load. The caller
// must call Down: it recovers every fault, stops the bank and saves the
// session.
func UpGameDay() (*GameDay, error) {
	cfg, err := LoadConfig(false)
	if err != nil {
		return nil, err
	}
	s, err := newSuite(cfg)
	if err != nil {
		return nil, err
	}
	currentMu.Lock()
	current = s
	currentMu.Unlock()
	if err := s.ensure(); err != nil {
		s.abort()
		return nil, fmt.Errorf("the bank did not start: %w", err)
	}
	g := &GameDay{s: s, busy: s.watchHost()}
	setRunning(GameDayName)
	var plans []load.Plan
	for j, r := range (&Scenario{}).rates(cfg.Rate, 1) {
		plans = append(plans, load.Plan{Journey: j, Rate: r, Duration: 24 * time.Hour})
	}
	sort.Slice(plans, func(i, j int) bool { return plans[i].Journey < plans[j].Journey })
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.stop = s.startLoad(ctx, GameDayName, plans)
	g.start = s.hist.Now()
	s.hist.AddEvent(history.Event{Scenario: GameDayName, At: g.start, Kind: history.Phase, Detail: "steady"})
	return g, nil
}

// RunDir is the session's run folder.
func (g *GameDay) RunDir() string { return g.s.dir }

// Platform names the platform the bank runs on.
func (g *GameDay) Platform() string { return g.s.plat.Name() }

// EntryPoints names where the bank takes its callers from outside: the
// app's edge and the card network's card-api.
func (g *GameDay) EntryPoints() map[string][]string {
	return map[string][]string{"edge": g.s.ingress.Edge(), "card-api": g.s.ingress.CardAPI()}
}

// Journeys returns each journey's figures over the last LiveEvery (ending
// a second ago, so that requests still in flight are not missed).
func (g *GameDay) Journeys() []JourneyNow {
	h := g.s.hist
	to := h.Now() - settleMargin
	w := check.Window{Name: "live", From: to - LiveEvery, To: to}
	ops := h.Recent(GameDayName, w.From)
	seen := map[string]bool{}
	for _, o := range ops {
		seen[o.Journey] = true
	}
	var out []JourneyNow
	for j := range seen {
		st := check.Compute(ops, j, w)
		if st.Count == 0 {
			continue
		}
		out = append(out, JourneyNow{Journey: j, Rate: float64(st.Count) / LiveEvery.Seconds(), Success: st.Success, P99: st.P99, Count: st.Count})
	}
	slices.SortFunc(out, func(a, b JourneyNow) int {
		if d := featureOrder(a.Journey) - featureOrder(b.Journey); d != 0 {
			return d
		}
		return strings.Compare(a.Journey, b.Journey)
	})
	return out
}

// Live prints, every LiveEvery until ctx ends, the faults on and a line
// per journey: its rate, success and p99 over the last LiveEvery.
func (g *GameDay) Live(ctx context.Context, out io.Writer) {
	t := time.NewTicker(LiveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now().Format("15:04:05")
		var on []string
		for _, f := range g.Status() {
			if f.On() {
				on = append(on, f.ID+" "+f.Name)
			}
		}
		if len(on) == 0 {
			on = []string{"none"}
		}
		fmt.Fprintf(out, "%s faults on: %s\n", now, strings.Join(on, "; "))
		for _, j := range g.Journeys() {
			fmt.Fprintf(out, "%s   %-16s %6.1f/s %7.2f%%  p99 %v\n", now, j.Journey, j.Rate, 100*j.Success, j.P99.Round(time.Millisecond))
		}
	}
}

// MaxFaultFor bounds a game day fault's --for.
const MaxFaultFor = 24 * time.Hour

// Inject injects the catalogue's fault kind on target with p, for d (0:
// until recovered by hand or at Down), and returns its state. A fault
// that fails to inject is undone at once (what may have gone in is
// recovered); one the platform cannot make is an error and not part of
// the session, and any other failure stays in it, counting against the
// session's verdict as a scenario's would.
func (g *GameDay) Inject(ctx context.Context, kind, target string, p faults.Params, d time.Duration) (FaultState, error) {
	if d < 0 || d > MaxFaultFor {
		return FaultState{}, fmt.Errorf("for %v: want 0 (until recovered) up to %v", d, MaxFaultFor)
	}
	f, err := faults.FromCatalogue(kind, target, p)
	if err != nil {
		return FaultState{}, err
	}
	g.mu.Lock()
	if g.downed {
		g.mu.Unlock()
		return FaultState{}, errors.New("the game day is ending")
	}
	g.injections++
	n := g.injections
	df := &dayFault{id: fmt.Sprintf("f%d", n), kind: kind, target: target, lasts: d}
	g.faults = append(g.faults, df)
	g.inflight.Add(1)
	g.mu.Unlock()
	defer g.inflight.Done()

	in := g.s.inject(ctx, GameDayName, n-1, f)
	if in.step.Error != "" {
		g.s.recover(ctx, GameDayName, in)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if in.step.Unsupported {
		g.faults = slices.DeleteFunc(g.faults, func(x *dayFault) bool { return x == df })
		return FaultState{}, fmt.Errorf("%s: %s", in.step.Name, in.step.Error)
	}
	df.in, df.st, df.claimed = in, g.snapshot(df, in), in.done
	if d > 0 && !in.done {
		df.timer = time.AfterFunc(d, func() { _ = g.Recover(context.Background(), df.id) })
	}
	return g.state(df), nil
}

// snapshot is a fault's state as its injection now says.
func (g *GameDay) snapshot(df *dayFault, in *injection) FaultState {
	st := in.step
	return FaultState{ID: df.id, Name: st.Name, Kind: df.kind, Target: df.target, Injected: st.Injected,
		Lasts: df.lasts, Recovered: st.Recovered, Evidence: st.Evidence, Error: st.Error}
}

// Recover recovers the fault id, or every fault still on when id is "".
func (g *GameDay) Recover(ctx context.Context, id string) error {
	g.mu.Lock()
	var todo []*dayFault
	known := false
	for _, f := range g.faults {
		if id != "" && f.id != id {
			continue
		}
		known = true
		if f.in != nil && !f.claimed {
			f.claimed = true
			todo = append(todo, f)
		}
	}
	g.mu.Unlock()
	if id != "" && !known {
		return fmt.Errorf("no fault %s in this game day", id)
	}
	if id != "" && len(todo) == 0 {
		return fmt.Errorf("fault %s is already recovered, or being recovered", id)
	}
	for _, f := range todo {
		if f.timer != nil {
			f.timer.Stop()
		}
		g.s.recover(ctx, GameDayName, f.in)
		g.mu.Lock()
		f.st = g.snapshot(f, f.in)
		g.mu.Unlock()
	}
	return nil
}

// Status returns every fault of the session, on or recovered, in the
// order they were injected.
func (g *GameDay) Status() []FaultState {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []FaultState
	for _, f := range g.faults {
		if f.in != nil {
			out = append(out, g.state(f))
		}
	}
	return out
}

// state is f's state now; g.mu is held.
func (g *GameDay) state(f *dayFault) FaultState {
	st := f.st
	if st.On() && f.lasts > 0 {
		st.Left = max(0, st.Injected+f.lasts-g.s.hist.Now())
	}
	return st
}

// Down ends the game day, once however often it is called: it recovers
// every fault, stops the load, drains and audits the bank, judges the
// session as a scenario, stops the bank and saves the run with its report.
func (g *GameDay) Down(ctx context.Context) (result.Scenario, error) {
	g.downOnce.Do(func() { g.downRes, g.downErr = g.down(ctx) })
	return g.downRes, g.downErr
}

func (g *GameDay) down(ctx context.Context) (result.Scenario, error) {
	g.mu.Lock()
	g.downed = true
	g.mu.Unlock()
	g.inflight.Wait()
	_ = g.Recover(ctx, "")
	s, h := g.s, g.s.hist
	// The load goes on until a recovery can be seen: a session downed
	// right after its last fault would otherwise end "too soon to tell".
	last := g.start
	for _, f := range g.faults {
		last = max(last, f.in.step.Recovered)
	}
	if wait := last + check.RecoveryLookahead(DefaultMaxRecovery) + settleMargin - h.Now(); len(g.faults) > 0 && wait > 0 {
		progress("%s: watching the bank recover for %v before stopping the load", GameDayName, wait.Round(time.Second))
		sleepUntil(ctx, h, h.Now()+wait)
	}
	end := h.Now()
	ls := g.stop()
	g.cancel()
	samples, hostErr := g.busy()
	h.AddEvent(history.Event{Scenario: GameDayName, At: end, Kind: history.Phase, Detail: "drain"})
	money := s.money(ctx, GameDayName)

	sc := &Scenario{Name: GameDayName, MaxRecovery: DefaultMaxRecovery,
		Runbook: "A game day: the bank under the standard load, broken by hand (faultline inject). " +
			"Money, card answers and leftovers are held; each journey's service levels are shown, not held."}
	var injs []*injection
	for _, f := range g.faults {
		injs = append(injs, f.in)
		st := f.in.step
		sc.Faults = append(sc.Faults, Step{At: st.Injected - g.start, For: max(time.Millisecond, st.Recovered-st.Injected), Fault: f.in.f})
	}
	sc.Steady = end - g.start
	if len(sc.Faults) > 0 {
		sc.Steady = sc.Faults[0].At
	}
	sc.After = max(0, end-last)
	res := s.judgeLive(sc, g.start, end, injs, ls, money, samples, hostErr)
	s.mu.Lock()
	s.results = append(s.results, res)
	s.mu.Unlock()
	setRunning("")
	return res, s.finish()
}
