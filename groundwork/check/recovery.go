package check

import (
	"fmt"
	"sort"
	"time"

	"github.com/faultline/faultline/groundwork/history"
)

// Recovery resolution: windows of RecoveryWindow, stepped by RecoveryStep;
// the SLO must hold in StableWindows consecutive windows to count as back.
const (
	RecoveryWindow = time.Second
	RecoveryStep   = 100 * time.Millisecond
	StableWindows  = 5
)

// Recovery returns how long after from the journey's SLO holds again: the
// start of the first of StableWindows consecutive windows (each
// RecoveryWindow wide, RecoveryStep apart) that meet slo, minus from. ok is
// false if it never does before end.
func Recovery(ops []history.Op, journey string, from, end time.Duration, slo SLO) (time.Duration, bool) {
	var mine []history.Op
	for _, o := range ops {
		if o.Journey == journey && o.Start >= from && o.Start < end && !o.Superseded {
			mine = append(mine, o)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].Start < mine[j].Start })
	slo.MinOps = max(1, slo.MinOps)
	run := 0
	for t := from; t+RecoveryWindow <= end; t += RecoveryStep {
		if slo.Meets(Compute(mine, journey, Window{From: t, To: t + RecoveryWindow})) {
			run++
			if run == StableWindows {
				return t - time.Duration(StableWindows-1)*RecoveryStep - from, true
			}
		} else {
			run = 0
		}
	}
	return 0, false
}

// RecoveryLookahead is how long after the faults a run must go on for
// CheckRecovery to tell a journey that did not recover within limit: the
// limit, then the stable windows that say it is back.
func RecoveryLookahead(limit time.Duration) time.Duration {
	return limit + RecoveryWindow + (StableWindows-1)*RecoveryStep
}

// CheckRecovery checks that journey recovers within limit after from. A
// journey not back by end is invalid only when the run watched it long
// enough to see a recovery within limit; otherwise (a fault that
// recovered so late that the run ended first) it is unknown.
func CheckRecovery(ops []history.Op, journey string, from, end time.Duration, slo SLO, limit time.Duration) (Result, time.Duration) {
	d, ok := Recovery(ops, journey, from, end, slo)
	r := Result{Check: "recovery", Journey: journey, Window: "after"}
	needed := RecoveryLookahead(limit)
	switch {
	case !ok && end-from < needed:
		r.Verdict, r.Summary = Unknown, fmt.Sprintf("the run ended %v after the faults were recovered, too soon to see a recovery within %v (it needs %v)",
			max(0, end-from).Round(time.Millisecond), limit, needed)
		d = -1
	case !ok:
		r.Verdict, r.Summary = Invalid, fmt.Sprintf("did not recover within %v of the run's end", (end-from).Round(time.Millisecond))
		d = -1
	case d > limit:
		r.Verdict, r.Summary = Invalid, fmt.Sprintf("recovered in %v, more than %v", d, limit)
	default:
		r.Verdict, r.Summary = Valid, fmt.Sprintf("recovered in %v", d)
	}
	return r, d
}
