package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/load"
)

// Abort is a scenario's safety stop, for game days on a mesh that must not
// be taken further down than planned: while its faults are on, once
// Journey's success over the last Over falls under MinSuccess (judged on
// at least MinOps answers in that span), the runner injects nothing more,
// recovers every fault at once and records why. The time after the faults
// then runs as usual, from the abort.
//
// The guard's check ("abort-guard") is unknown when it fired: the faults
// were cut short, so the bank under them was not seen in full. Whether the
// bank did wrong is for the other checks: a floor under the journey's
// objective means its SLO check has failed too (invalid on a quiet host,
// unknown on a busy one). A guard that never fired says how low the
// journey went.
type Abort struct {
	Journey    string
	MinSuccess float64       // in (0, 1]
	Over       time.Duration // the span success is judged over
	MinOps     int           // answers needed in the span (default 5)
}

func (a *Abort) validate() error {
	switch {
	case a == nil:
		return nil
	case a.MinSuccess <= 0 || a.MinSuccess > 1:
		return fmt.Errorf("abort: floor %v must be in (0, 1]", a.MinSuccess)
	case a.Over <= 0:
		return fmt.Errorf("abort: span %v must be positive", a.Over)
	case a.MinOps < 0:
		return fmt.Errorf("abort: negative MinOps")
	}
	if _, ok := load.LookupJourney(a.Journey); !ok {
		return fmt.Errorf("abort: unknown journey %q", a.Journey)
	}
	return nil
}

func (a *Abort) minOps() int {
	if a.MinOps == 0 {
		return 5
	}
	return a.MinOps
}

// breached judges the span (now-Over, now]: the journey's answers that
// ended in it (a superseded attempt is not an answer the customer saw),
// their success, and whether that is under the floor.
func (a *Abort) breached(ops []history.Op, now time.Duration) (success float64, n int, under bool) {
	ok := 0
	for _, o := range ops {
		if o.Journey != a.Journey || o.Superseded {
			continue
		}
		if end := o.End(); end <= now-a.Over || end > now {
			continue
		}
		n++
		if o.Outcome == history.OK {
			ok++
		}
	}
	if n == 0 {
		return 0, 0, false
	}
	success = float64(ok) / float64(n)
	return success, n, n >= a.minOps() && success < a.MinSuccess
}

// guardState is what the guard saw: whether it fired, when and why, and
// the lowest success it judged.
type guardState struct {
	fired  bool
	at     time.Duration
	reason string
	lowest float64
	looked int // spans judged on enough answers

	done chan struct{} // closed when the guard has stopped watching
}

// wait waits until the guard has stopped (its context ended or it fired);
// only then may its fields be read.
func (st *guardState) wait() {
	if st.done != nil {
		<-st.done
	}
}

// guard watches the scenario's history every 200 ms from the first
// injection (from) until ctx ends, and calls stop once, when the abort
// condition holds.
func (s *suite) guard(ctx context.Context, sc *Scenario, from time.Duration, stop func()) *guardState {
	st := &guardState{lowest: 1}
	a := sc.Abort
	if a == nil {
		return st
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			now := s.hist.Now()
			if now < from {
				continue
			}
			success, n, under := a.breached(s.hist.Ops(sc.Name), now)
			if n >= a.minOps() {
				st.looked++
				st.lowest = min(st.lowest, success)
			}
			if under {
				st.fired, st.at = true, now
				st.reason = fmt.Sprintf("%s success %.0f%% over the last %v (%d answers) < floor %.0f%%", a.Journey, 100*success, a.Over, n, 100*a.MinSuccess)
				progress("%s: ABORT: %s; recovering every fault now", sc.Name, st.reason)
				stop()
				return
			}
		}
	}()
	st.done = done
	return st
}

// result is the guard's check.
func (st *guardState) result(a *Abort) check.Result {
	r := check.Result{Check: "abort-guard", Journey: a.Journey, Verdict: check.Valid}
	switch {
	case st.fired:
		r.Verdict, r.Summary = check.Unknown, fmt.Sprintf("faults cut short %v into the run: %s", st.at.Round(time.Millisecond), st.reason)
	case st.looked == 0:
		r.Verdict, r.Summary = check.Unknown, fmt.Sprintf("never had %d answers of %s in a %v span to judge", a.minOps(), a.Journey, a.Over)
	default:
		r.Summary = fmt.Sprintf("never fired: the lowest success of %s over %v was %.0f%% (floor %.0f%%)", a.Journey, a.Over, 100*st.lowest, 100*a.MinSuccess)
	}
	return r
}
