package harness

import (
	"fmt"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/host"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/groundwork/result"
)

// HostBusyLimit is the share of the machine's CPU that work outside the run
// (a build, another suite, a CPU burner) may use in a window before that
// window's service level figures stop being the bank's alone. Above it, a
// missed objective in the window (slo, tier-contract, recovery) is unknown,
// with the figure, never invalid. Money, answers and the scenario's own
// checks are judged as always. On the 2-core machine the suite is measured
// on, the run itself keeps the CPUs 75-90% busy and a quiet machine's other
// work is 0-3%; one CPU burner beside the suite takes 20-31%, and 9% taken
// by the hypervisor was enough to stall the card path three times in 4 s.
const HostBusyLimit = 0.05

// busyHostJudged names the checks a busy host can spoil.
var busyHostJudged = map[string]bool{"slo": true, "tier-contract": true, "recovery": true}

// hostJudged says whether a busy host may have spoilt c: a service level
// check, or an AnsweredWithin check whose every miss was answered, late.
func hostJudged(c check.Result) bool {
	return busyHostJudged[c.Check] || strings.HasPrefix(c.Summary, lateAnswers)
}

// hostCheck reports how busy the machine was with work outside the run in
// each window, and turns each invalid slo, tier-contract or recovery
// verdict (and each deadline missed only by late answers) of a window above
// HostBusyLimit into unknown with that reason:
// every latency miss, and a failure or a slow recovery when another journey
// missed in the same window too (a starved host slows everything) or when
// most of the journey's failures ran out of time (a starved host fails the
// journeys with the tightest deadlines first, alone). One journey failing
// fast while the others hold is the bank's.
// The host check itself is informational: a busy host does not make a
// scenario unknown, only the verdicts it may have spoilt.
func hostCheck(res *result.Scenario, ws check.Windows, ops []history.Op) check.Result {
	r := check.Result{Check: "host", Verdict: check.Valid, Informational: true}
	if res.HostError != "" || len(res.Host) == 0 {
		r.Verdict = check.Unknown
		r.Summary = "how busy the host was could not be measured: " + firstNonEmpty(res.HostError, "no samples")
		return r
	}
	spans := map[string][2]time.Duration{}
	var figures []string
	for _, w := range ws.All() {
		spans[w.Name] = [2]time.Duration{w.From, w.To}
		if share, ok := host.Busy(res.Host, w.From, w.To); ok {
			figures = append(figures, fmt.Sprintf("%s %.0f%%%s", w.Name, 100*share, busiest(res.Host, w.From, w.To)))
		}
	}
	if res.Plan != nil {
		spans["recovery"] = [2]time.Duration{res.Plan.RecoveryFrom, res.End}
	}
	r.Summary = fmt.Sprintf("work outside the run used this share of the machine's CPU: %s (limit %.0f%%)",
		strings.Join(figures, ", "), 100*HostBusyLimit)
	// Which journeys missed in each window (recoveries count with the
	// after window): a host short of CPU slows every journey, so a lone
	// journey that failed while the others held is not the host's doing.
	missed := map[string]map[string]bool{}
	group := func(c check.Result) string {
		if c.Check == "recovery" {
			return check.After
		}
		return c.Window
	}
	for _, c := range res.Checks {
		if c.Verdict == check.Invalid && hostJudged(c) {
			if missed[group(c)] == nil {
				missed[group(c)] = map[string]bool{}
			}
			missed[group(c)][c.Journey] = true
		}
	}
	excused, kept := 0, 0
	for i, c := range res.Checks {
		if c.Verdict != check.Invalid || !hostJudged(c) {
			continue
		}
		win := c.Window
		if c.Check == "recovery" {
			win = "recovery"
		}
		span, ok := spans[win]
		if !ok {
			continue
		}
		share, ok := host.Busy(res.Host, span[0], span[1])
		if !ok || share <= HostBusyLimit {
			continue
		}
		if !latencyMiss(c) && len(missed[group(c)]) < 2 && !outOfTime(ops, res.Name, c.Journey, span[0], span[1]) {
			res.Checks[i].Summary = fmt.Sprintf("%s (the host was busy, %.0f%% of its CPU used by other work, but only this journey missed, and most of its failures were fast: not the host's doing)", c.Summary, 100*share)
			kept++
			continue
		}
		res.Checks[i].Verdict = check.Unknown
		res.Checks[i].Summary = fmt.Sprintf("the host was busy: work outside the run used %.0f%% of the machine's CPU in this window%s (limit %.0f%%), so this miss may be the host's, not the bank's: %s",
			100*share, busiest(res.Host, span[0], span[1]), 100*HostBusyLimit, c.Summary)
		excused++
	}
	if excused > 0 {
		r.Summary += fmt.Sprintf("; %d missed objective(s) made unknown", excused)
	}
	if kept > 0 {
		r.Summary += fmt.Sprintf("; %d kept invalid (one journey failing alone)", kept)
	}
	return r
}

// busiest says what used the outside CPU over [from, to): the hypervisor's
// steal and the busiest outside processes, each of at least 1% of the
// machine, as " (7% stolen by the hypervisor, yes 12%)", or "".
func busiest(samples []host.Sample, from, to time.Duration) string {
	var parts []string
	if st := host.Stolen(samples, from, to); st >= 0.01 {
		parts = append(parts, fmt.Sprintf("%.0f%% stolen by the hypervisor", 100*st))
	}
	for _, u := range host.Who(samples, from, to) {
		if u.Share < 0.01 || len(parts) == 3 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%%", u.Name, 100*u.Share))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// OutOfTime is how long a failed request must have taken to count as one
// that ran out of time: what a starved host does to a request with a
// deadline (card-api's "issuer unavailable" after 800 ms, a gateway's 504).
const OutOfTime = 500 * time.Millisecond

// outOfTime reports whether most of journey's failures that started in
// [from, to) ran out of time rather than failing fast. A starved host
// makes the journeys with the tightest deadlines fail first, alone, by
// running out of time, or makes card-api shed them (load.ErrShed: declined
// at once for want of capacity); a bank that is broken fails fast ("91"
// within milliseconds, not shed) whatever the host does.
func outOfTime(ops []history.Op, scenario, journey string, from, to time.Duration) bool {
	var failed, slow int
	for _, o := range ops {
		if o.Scenario != scenario || o.Journey != journey || o.Start < from || o.Start >= to || o.Superseded || o.Outcome == history.OK {
			continue
		}
		failed++
		if o.Latency >= OutOfTime || o.Error == load.ErrShed {
			slow++
		}
	}
	return failed > 0 && 2*slow >= failed
}

// latencyMiss reports whether an invalid slo or tier-contract result
// missed on latency only (its success held).
func latencyMiss(c check.Result) bool {
	return c.Check != "recovery" && !strings.Contains(c.Summary, "success ")
}
