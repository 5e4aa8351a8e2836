package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/load"
	"github.com/faultline/faultline/harness/result"
	"github.com/faultline/faultline/system/topology"
)

func journeyTier(j string) int {
	f, _ := topology.LookupFeature(j)
	return f.Tier
}

// judge runs every checker over the scenario's history and decides its
// verdict.
func (s *suite) judge(sc *Scenario, start, end time.Duration, injs []*injection, ls []load.Stats, money moneyState) result.Scenario {
	ops := s.hist.Ops(sc.Name)
	res := result.Scenario{Name: sc.Name, Runbook: sc.Runbook, Start: start, End: end, Hold: sc.Hold,
		Recovery: map[string]time.Duration{}, Load: ls, Windows: map[string][2]time.Duration{}}
	first, last, ref := end, start, start
	for _, in := range injs {
		if in == nil {
			continue
		}
		res.Faults = append(res.Faults, in.step)
		first, last = min(first, in.step.Injected), max(last, in.step.Recovered)
		r := in.step.Recovered
		if sh, ok := in.f.(SelfHealing); ok && sh.SelfHealing() {
			r = in.step.Injected
		}
		ref = max(ref, r)
		if in.step.Error != "" {
			res.Checks = append(res.Checks, check.Result{Check: "fault", Verdict: check.Invalid, Summary: in.step.Name + ": " + in.step.Error})
		}
	}
	steady := check.Window{Name: "steady", From: start, To: start + sc.Steady}
	during := check.Window{Name: "during", From: first, To: max(first, last)}
	after := check.Window{Name: "after", From: max(last, end-sc.After/2), To: end}
	for _, w := range []check.Window{steady, during, after} {
		res.Windows[w.Name] = [2]time.Duration{w.From, w.To}
	}
	tier, known := sc.faultTier()
	res.FaultTier = tier
	contract := known && tier >= 2
	for _, st := range ls {
		j := st.Journey
		r, stats := check.CheckSLO(ops, j, steady, SteadySLO)
		res.Checks, res.Stats = append(res.Checks, r), append(res.Stats, stats)
		hold := slices.Contains(sc.Hold, j)
		slo := HoldSLO
		if o, ok := sc.HoldSLO[j]; ok {
			slo = o
		}
		if contract && journeyTier(j) <= 1 {
			hold, slo = true, SteadySLO
		}
		r, stats = check.CheckSLO(ops, j, during, slo)
		res.Stats = append(res.Stats, stats)
		if hold {
			if contract && journeyTier(j) <= 1 {
				r.Check = "tier-contract"
				r.Summary = fmt.Sprintf("tier %d fault must not move this tier %d journey: %s", tier, journeyTier(j), r.Summary)
			}
			res.Checks = append(res.Checks, r)
		}
		r, stats = check.CheckSLO(ops, j, after, RecoverySLO)
		res.Checks, res.Stats = append(res.Checks, r), append(res.Stats, stats)
		rr, d := check.CheckRecovery(ops, j, ref, end, RecoverySLO, sc.MaxRecovery)
		res.Checks = append(res.Checks, rr)
		res.Recovery[j] = d
		res.Checks = append(res.Checks, loadCheck(st))
	}
	if money.err != nil {
		res.Checks = append(res.Checks, check.Result{Check: "money", Verdict: check.Unknown, Summary: "audit unavailable: " + money.err.Error()})
	} else {
		m := check.Money(ops, money.audit, money.mismatches)
		m.Summary += fmt.Sprintf("; drained in %v", money.drained.Round(time.Millisecond))
		res.Checks = append(res.Checks, m)
	}
	res.Checks = append(res.Checks, check.Exercise(ops, steady), check.Answers(ops), s.leftovers())
	res.Verdict = check.Valid
	for _, c := range res.Checks {
		switch {
		case c.Verdict == check.Invalid:
			res.Verdict = check.Invalid
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
			res.Failures = append(res.Failures, msg)
		case c.Verdict == check.Unknown && res.Verdict == check.Valid && c.Check != "slo":
			res.Verdict = check.Unknown
		}
	}
	return res
}

// loadCheck flags load that was not delivered as asked.
func loadCheck(st load.Stats) check.Result {
	r := check.Result{Check: "load", Journey: st.Journey, Verdict: check.Valid, Summary: st.String()}
	maxLag := time.Duration(load.DefaultMaxLagFraction * float64(SteadySLO.P99))
	switch {
	case st.Underdrive:
		r.Verdict, r.Summary = check.Unknown, "load under-delivered: "+st.String()
	case st.LagP99 > maxLag:
		r.Verdict, r.Summary = check.Unknown, fmt.Sprintf("generator queued: send lag p99 %v > %v; %s", st.LagP99, maxLag, st)
	}
	return r
}

// leftovers checks that nothing is still injected: no journal entry, no
// toxic on any link, no admin fault on any instance.
func (s *suite) leftovers() check.Result {
	r := check.Result{Check: "leftovers", Verdict: check.Valid, Summary: "nothing left injected"}
	bad := func(format string, args ...any) {
		r.Verdict = check.Invalid
		r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
	}
	active, err := s.journal.Active()
	if err != nil {
		bad("journal unreadable: %v", err)
	}
	for _, e := range active {
		bad("journal still holds %s fault %s on %s", e.Kind, e.ID, e.Target)
	}
	for _, l := range s.plat.Links("", "") {
		if t := l.Toxics(); len(t) > 0 {
			bad("link %s->%s still has toxics %v", l.From().Name, l.To().Name, t)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, in := range s.plat.Instances("") {
		if in.Service == topology.Store {
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+in.Addr+"/admin/faults", nil)
		resp, err := adminHTTP.Do(req)
		if err != nil {
			continue // not running right now; it restarts with no faults
		}
		var list []json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if len(list) > 0 {
			bad("%s still has %d admin faults", in.Name, len(list))
		}
	}
	if r.Verdict == check.Invalid {
		r.Summary = fmt.Sprintf("%d faults left injected", len(r.Examples))
	}
	return r
}
