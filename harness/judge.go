package harness

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/system/topology"
)

func journeyTier(j string) int {
	f, _ := topology.LookupFeature(j)
	return f.Tier
}

// plan says what sc's history is held to: the fault span (from the moment
// the first injection began to the moment the last recovery finished), where
// recovery times count from, and each journey's objective per window.
func plan(sc *Scenario, start, end time.Duration, faults []result.Fault, selfHealing []bool, ls []load.Stats) result.Plan {
	span := check.Span{From: end, To: start}
	ref := start
	for i, f := range faults {
		span.From, span.To = min(span.From, f.Injected), max(span.To, f.Recovered)
		r := f.Recovered
		if selfHealing[i] {
			r = f.Injected
		}
		ref = max(ref, r)
	}
	if len(faults) == 0 {
		span = check.Span{From: start + sc.Steady, To: start + sc.Steady}
	}
	p := result.Plan{Faults: span, AfterLen: sc.After, RecoveryFrom: ref, MaxRecovery: sc.MaxRecovery, Contended: sc.Contention != nil}
	tier, known := sc.faultTier()
	contract := known && tier >= 2 && len(faults) > 0 // no fault, no contract to hold
	for _, st := range ls {
		j := st.Journey
		held := slices.Contains(sc.Hold, j)
		p.Objectives = append(p.Objectives, result.Objective{Journey: j, Window: check.Steady, Check: "slo", SLO: steadySLO(j), Informational: !held})
		during := result.Objective{Journey: j, Window: check.During, Check: "slo", SLO: HoldSLO}
		if o, ok := sc.HoldSLO[j]; ok {
			during.SLO = o
		}
		switch {
		case contract && journeyTier(j) <= 1:
			during.Check, during.SLO = "tier-contract", steadySLO(j)
			during.Note = fmt.Sprintf("tier %d fault must not move this tier %d journey: ", tier, journeyTier(j))
		case !held:
			during.Informational = true
		}
		p.Objectives = append(p.Objectives, during,
			result.Objective{Journey: j, Window: check.After, Check: "slo", SLO: RecoverySLO, Informational: !held})
	}
	return p
}

// windows cuts res's windows by its plan.
func windows(res *result.Scenario) check.Windows {
	f := res.Plan.Faults
	return check.Cut(res.Start, f.From, res.End, &f, res.Plan.AfterLen)
}

// Judge runs every checker that reads only saved data (the history, the load
// figures, the money evidence) over res as its plan says, and returns res
// with those checks, its stats and recovery times filled in. Checks it does
// not make (a fault that failed, leftovers, the scenario's own checks) are
// kept. A window in which the host was busy with other work
// (HostBusyLimit) cannot make a service level check invalid, only unknown. A checker that panics gives unknown for itself. Judge is what the
// runner calls after a scenario and what `faultline report -rejudge` calls
// on a saved run.
func Judge(res result.Scenario, ops []history.Op, ev result.Evidence) result.Scenario {
	ws := windows(&res)
	for _, w := range ws.All() {
		res.Windows[w.Name] = [2]time.Duration{w.From, w.To}
	}
	var kept []check.Result
	for _, c := range res.Checks {
		if !judged[c.Check] {
			kept = append(kept, c)
		}
	}
	res.Checks, res.Stats, res.Recovery = nil, nil, map[string]time.Duration{}
	byName := map[string]check.Window{check.Steady: ws.Steady, check.During: ws.During, check.After: ws.After}
	for _, o := range res.Plan.Objectives {
		r, stats := check.CheckSLO(ops, o.Journey, byName[o.Window], o.SLO)
		r.Check, r.Summary, r.Informational = o.Check, o.Note+r.Summary, o.Informational
		res.Stats = append(res.Stats, stats)
		if o.Window != check.During || o.Check == "tier-contract" || !o.Informational {
			res.Checks = append(res.Checks, r)
		}
	}
	for _, st := range res.Load {
		j := st.Journey
		var d time.Duration
		res.Checks = append(res.Checks, check.Safely("recovery", func() check.Result {
			r, dd := check.CheckRecovery(ops, j, res.Plan.RecoveryFrom, res.End, RecoverySLO, res.Plan.MaxRecovery)
			d = dd
			return r
		}))
		res.Recovery[j] = d
		res.Checks = append(res.Checks, loadCheck(st))
	}
	res.Checks = append(res.Checks, check.Safely("money", func() check.Result { return moneyCheck(ops, ev) }),
		check.Safely("exercise", func() check.Result {
			if res.Plan.Contended {
				return check.ExerciseContended(ops)
			}
			return check.Exercise(ops, ws.Steady)
		}),
		check.Safely("answers", func() check.Result { return check.Answers(ops) }),
		check.Safely("card-answers", func() check.Result { return cardAnswersCheck(ev) }),
		check.Safely("stand-in", func() check.Result { return standInCheck(ev) }))
	// The scenario's own checks go in before the host check, which may
	// excuse their late answers too.
	res.Checks = append(res.Checks, kept...)
	hc := check.Safely("host", func() check.Result { return hostCheck(&res, ws, ops) })
	hc.Informational = true
	res.Checks = append(res.Checks, hc)
	res.Verdict, res.Failures = verdict(res.Checks)
	return res
}

// judged names the checks Judge makes; it replaces them when it judges a
// saved scenario again.
var judged = map[string]bool{"slo": true, "tier-contract": true, "recovery": true, "load": true,
	"money": true, "exercise": true, "answers": true, "card-answers": true, "stand-in": true, "host": true}

// cardAnswersCheck compares the answers card-api gave the network with the
// ledger (check.CardAnswers).
func cardAnswersCheck(ev result.Evidence) check.Result {
	if ev.Error != "" {
		return check.Result{Check: "card-answers", Verdict: check.Unknown, Summary: "audit unavailable: " + ev.Error}
	}
	var readErr error
	if ev.AnswersError != "" {
		readErr = errors.New(ev.AnswersError)
	}
	return check.CardAnswers(ev.CardAnswers, ev.Audit, readErr, ev.CatchingUp)
}

// standInCheck holds what card-api approved alone to its caps
// (check.StandInExposure).
func standInCheck(ev result.Evidence) check.Result {
	if ev.Error != "" {
		return check.Result{Check: "stand-in", Verdict: check.Unknown, Summary: "audit unavailable: " + ev.Error}
	}
	return check.StandInExposure(ev.Audit, ev.StandInBound)
}

func moneyCheck(ops []history.Op, ev result.Evidence) check.Result {
	if ev.Error != "" {
		return check.Result{Check: "money", Verdict: check.Unknown, Summary: "audit unavailable: " + ev.Error}
	}
	m := check.Money(ops, ev.Audit, ev.Mismatches, ev.CatchingUp)
	m.Summary += fmt.Sprintf("; drained in %v", ev.Drained.Round(time.Millisecond))
	return m
}

// verdict merges the checks (check.Merge) and words each failed one for
// the test log: check, journey, window, summary and first example.
func verdict(rs []check.Result) (check.Verdict, []string) {
	var failures []string
	for _, c := range rs {
		if c.Verdict != check.Invalid {
			continue
		}
		msg := fmt.Sprintf("%s check failed", c.Check)
		if c.Journey != "" {
			msg += " for journey " + c.Journey
		}
		if c.Window != "" {
			msg += " in window " + c.Window
		}
		msg += ": " + c.Summary
		if len(c.Examples) > 0 {
			msg += "\n    first bad example: " + c.Examples[0]
		}
		failures = append(failures, msg)
	}
	return check.Merge(rs), failures
}

// loadCheck flags load that was not delivered as asked: under 99% of the
// requests sent, or significantly more than 1% of them sent later than
// load.DefaultMaxLag (the generator queued, so latencies would hide its
// queueing). The same rule as the SLOs' (check.Miss): one late send in a
// hundred from a scheduling hiccup is chance, not queueing.
func loadCheck(st load.Stats) check.Result {
	r := check.Result{Check: "load", Journey: st.Journey, Verdict: check.Valid, Summary: st.String()}
	late := check.Miss{Bad: st.Lagged, N: st.Sent, Allowed: 0.01}
	switch {
	case st.Underdrive:
		r.Verdict, r.Summary = check.Unknown, "load under-delivered: "+st.String()
	case late.Significant():
		r.Verdict, r.Summary = check.Unknown, fmt.Sprintf("generator queued: %d of %d sends later than %v (p=%.2g); %s",
			st.Lagged, st.Sent, load.DefaultMaxLag, late.PValue(), st)
	}
	return r
}
