package check

import (
	"fmt"
	"math"
	"time"
)

// Significance is the rule by which a window's SLO is judged: a journey
// missed its objective only if, were it exactly at the objective, a window
// with at least as many bad requests as the one observed would happen less
// often than once in a hundred (a one-sided binomial test). A few stray
// resets in an otherwise healthy window are within chance and pass; a
// journey really below its objective fails as soon as the window holds
// enough requests to show it.
//
// The same rule judges latency: "p99 within B" allows 1% of requests slower
// than B, and a window fails only when significantly more are. Slow
// requests are not independent, though: one stall (a GC pause, the
// hypervisor taking the CPU, an fsync) slows every request in flight at
// that moment. So latency is judged in stalls (Stalls): slow requests in
// flight together count as one event, and the window's request count is
// divided by the same average stall size (the design effect of cluster
// sampling). One stall that slows three requests at once in a window of 30
// is one event in ten, within chance; a journey slow all the time is a
// stall every B, and fails.
const Significance = 0.01

// latencyAllowance is the share of requests a p99 bound lets be slower.
const latencyAllowance = 0.01

// Miss is how a window stands against one side of an objective: bad
// requests out of n, against an allowed share.
type Miss struct {
	Bad, N  int
	Allowed float64 // share of bad requests the objective allows
}

// PValue is the chance of at least m.Bad bad requests out of m.N were each
// request bad with probability m.Allowed (the upper tail of the binomial).
func (m Miss) PValue() float64 {
	return binomialTail(m.N, m.Bad, m.Allowed)
}

// Significant reports whether the window shows, at Significance, that the
// journey is worse than its objective: more bad requests than allowed, and
// too many to be chance.
func (m Miss) Significant() bool {
	if m.N == 0 || float64(m.Bad) <= m.Allowed*float64(m.N) {
		return false
	}
	return m.PValue() < Significance
}

// binomialTail returns P(X >= k) for X ~ Binomial(n, p), summed in log space.
func binomialTail(n, k int, p float64) float64 {
	switch {
	case k <= 0:
		return 1
	case k > n:
		return 0
	case p <= 0:
		return 0
	case p >= 1:
		return 1
	}
	lp, lq := math.Log(p), math.Log1p(-p)
	ln, _ := math.Lgamma(float64(n + 1))
	sum := 0.0
	for i := k; i <= n; i++ {
		li, _ := math.Lgamma(float64(i + 1))
		lr, _ := math.Lgamma(float64(n - i + 1))
		term := math.Exp(ln - li - lr + float64(i)*lp + float64(n-i)*lq)
		sum += term
		if term < sum*1e-15 && float64(i) > p*float64(n) {
			break // the remaining terms only shrink
		}
	}
	return min(1, sum)
}

// Holds judges s against slo by the Significance rule. It is unknown when the
// window has fewer than MinOps requests; invalid when the share of failed
// requests, or of requests slower than the p99 bound, is significantly above
// what the objective allows; valid otherwise, saying when the observed
// figure is below the objective but within chance.
func (slo SLO) Holds(s Stats) (Verdict, string) {
	if s.Count < max(1, slo.MinOps) {
		return Unknown, fmt.Sprintf("%d requests, fewer than the %d needed to judge", s.Count, max(1, slo.MinOps))
	}
	bad := Miss{Bad: s.Count - s.OK, N: s.Count, Allowed: 1 - slo.MinSuccess}
	slowN, stalls := s.Stalls(slo.P99)
	slow := Miss{Bad: stalls, N: s.Count, Allowed: latencyAllowance}
	if stalls > 0 {
		size := float64(slowN) / float64(stalls)
		slow.N = max(stalls, int(math.Round(float64(s.Count)/size)))
	}
	if bad.Significant() {
		return Invalid, fmt.Sprintf("success %.2f%% < %.2f%% (%d fail, %d unknown of %d; p=%.2g < %v)",
			100*s.Success, 100*slo.MinSuccess, s.Fail, s.Unknown, s.Count, bad.PValue(), Significance)
	}
	if slow.Significant() {
		return Invalid, fmt.Sprintf("p99 %v > %v (%d of %d slower, in %d stalls; p=%.2g < %v)",
			s.P99.Round(time.Millisecond), slo.P99, slowN, s.Count, stalls, slow.PValue(), Significance)
	}
	why := fmt.Sprintf("success %.2f%%, p99 %v over %d requests", 100*s.Success, s.P99.Round(time.Millisecond), s.Count)
	if s.Success < slo.MinSuccess || s.P99 > slo.P99 {
		why += fmt.Sprintf("; below the objective (%.2f%%, %v) by no more than chance allows (p=%.2g, %.2g)",
			100*slo.MinSuccess, slo.P99, bad.PValue(), slow.PValue())
	}
	return Valid, why
}

// Meets reports whether s meets slo as observed, with no allowance for
// chance: every figure at or inside its bound. Recovery times use it (a
// measurement of when the journey is back, not a verdict on a window).
func (slo SLO) Meets(s Stats) bool {
	return s.Count >= max(1, slo.MinOps) && s.Success >= slo.MinSuccess && s.P99 <= slo.P99
}

// Stalls returns how many of the window's requests took longer than d, and
// into how many stalls they fall: a stall is a run of slow requests that
// were in flight together (each started before the ones before it had all
// ended), lasting at most d from its first start, so that a journey slow
// all the time is one stall every d, not one stall.
func (s Stats) Stalls(d time.Duration) (slow, stalls int) {
	var first, end time.Duration
	open := false
	for _, sp := range s.spans {
		if sp.latency <= d {
			continue
		}
		slow++
		if open && sp.start < first+d && sp.start <= end {
			end = max(end, sp.start+sp.latency)
			continue
		}
		stalls++
		first, end, open = sp.start, sp.start+sp.latency, true
	}
	return slow, stalls
}
