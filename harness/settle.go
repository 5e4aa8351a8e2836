package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/load"
)

// The bank is shared by every scenario of a run, so what one scenario left
// behind (deferred work catching up, voids being worked off, a store node
// still catching up with its peers) can still be under way when the next
// one starts. A steady window that began then would judge the last
// scenario's tail as this one's steady state. So, after the warm-up, the
// load goes on until the bank is steady (every settled journey meets its
// steady objective in check.StableWindows consecutive one-second windows),
// for at most SettleLimit; the wait is recorded as an event and, when long,
// printed. A bank that does not settle is judged anyway: its steady window
// then shows why.
const (
	// SettleLimit bounds the wait for a steady bank after the warm-up.
	SettleLimit = 20 * time.Second
	// settleRate is the lowest rate of a journey the wait looks at: a
	// lighter one has too few requests a second to tell.
	settleRate = 5.0
	// settleMargin is how far behind now the last window ends, so that the
	// requests in it have had time to answer (a request still in flight is
	// not in the history, and its absence makes the window short).
	settleMargin = time.Second
	// settlePoll is how often the history is looked at.
	settlePoll = 200 * time.Millisecond
)

// settle waits, from the warm-up's start, until the bank is steady for
// the scenario's load or SettleLimit has passed, and returns how long it
// waited past the warm-up and whether the bank was steady.
func (s *suite) settle(ctx context.Context, sc *Scenario, warm time.Duration, plans []load.Plan) (time.Duration, bool) {
	from := warm + Warmup
	steady := s.waitSteady(ctx, sc.Name, plans, warm, from+SettleLimit)
	return max(0, s.hist.Now()-from), steady
}

// waitSteady waits until the bank is steady for plans (steadyNow, with no
// window starting before from) or deadline has passed, and reports
// whether it was steady.
func (s *suite) waitSteady(ctx context.Context, scenario string, plans []load.Plan, from, deadline time.Duration) bool {
	h := s.hist
	for {
		now := h.Now()
		end := now - settleMargin
		if steadyNow(h.Recent(scenario, end-steadySpan), plans, from, end) {
			return true
		}
		if now >= deadline || ctx.Err() != nil {
			return false
		}
		sleepUntil(ctx, h, min(now+settlePoll, deadline))
	}
}

// steadySpan is how far back steadyNow looks: StableWindows windows of
// RecoveryWindow, RecoveryStep apart.
const steadySpan = check.RecoveryWindow + time.Duration(check.StableWindows-1)*check.RecoveryStep

// steadyNow reports whether every journey of plans at settleRate or more
// met its steady objective in each of the check.StableWindows windows
// ending by end (none starting before from).
func steadyNow(ops []history.Op, plans []load.Plan, from, end time.Duration) bool {
	span := steadySpan
	if end-span < from {
		return false
	}
	for _, p := range plans {
		if p.Rate < settleRate {
			continue
		}
		slo := steadySLO(p.Journey)
		// A one-second window of a journey at rate r holds about r
		// requests; most of them must be there.
		slo.MinOps = max(1, int(0.8*p.Rate*check.RecoveryWindow.Seconds()))
		if d, ok := check.Recovery(ops, p.Journey, end-span, end, slo); !ok || d != 0 {
			return false
		}
	}
	return true
}

// settled records, and prints when it matters, how the wait for a steady
// bank ended, and returns that for the scenario's result.
func (s *suite) settled(sc *Scenario, waited time.Duration, steady bool) string {
	detail := fmt.Sprintf("steady after %v more warm-up", waited.Round(time.Millisecond))
	switch {
	case !steady:
		detail = fmt.Sprintf("not steady after %v more warm-up; judged anyway", waited.Round(time.Millisecond))
		progress("%s: the bank was %s", sc.Name, detail)
	case waited >= 2*time.Second:
		progress("%s: the bank was %s", sc.Name, detail)
	}
	s.hist.AddEvent(history.Event{Scenario: sc.Name, At: s.hist.Now(), Kind: history.Settle, Detail: detail})
	return detail
}
