package check

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Effect is how much a fault hurt a feature, against the feature's own
// figures just before the fault (the blast-radius sweep's cells).
type Effect string

// The effects, from none to worst; NotJudged when a window held too few
// requests, or the bank was not steady before the fault, to tell.
const (
	Unaffected Effect = "unaffected"
	Degraded   Effect = "degraded"
	Broken     Effect = "broken"
	NotJudged  Effect = "unknown"
)

// Thresholds say where unaffected ends and degraded and broken begin.
// Degraded is judged by the Significance rule, so that a handful of
// requests in a short window cannot make a cell degraded by chance; how
// badly a degraded feature fared (broken or not) is read as observed.
type Thresholds struct {
	// Degraded: the share of failed requests is significantly above the
	// baseline's plus DegradedDrop (points of success), or significantly
	// more than 1% of requests are slower than max(SlowFactor × the
	// baseline's p99, the baseline's p99 + SlowMargin).
	DegradedDrop float64       `json:"degraded_drop"`
	SlowFactor   float64       `json:"slow_factor"`
	SlowMargin   time.Duration `json:"slow_margin"`
	// Broken: degraded, and fewer than BrokenSuccess of the requests
	// succeeded or the p99 passed BrokenP99.
	BrokenSuccess float64       `json:"broken_success"`
	BrokenP99     time.Duration `json:"broken_p99"`
	// MinOps is the fewest requests a window must hold to be judged.
	MinOps int `json:"min_ops"`
}

// DefaultThresholds: a feature is degraded when it lost two points of
// success, or its p99 at least doubled and grew by 100 ms (a customer
// notices neither less); broken when half its requests failed, or its p99
// passed 2 s (a card network stands in for the issuer after 3-5 s, and an
// app's customer gives up about then).
var DefaultThresholds = Thresholds{DegradedDrop: 0.02, SlowFactor: 2, SlowMargin: 100 * time.Millisecond,
	BrokenSuccess: 0.5, BrokenP99: 2 * time.Second, MinOps: 10}

// Validate checks the thresholds.
func (t Thresholds) Validate() error {
	var errs []error
	if t.DegradedDrop <= 0 || t.DegradedDrop >= 1 {
		errs = append(errs, fmt.Errorf("degraded drop %v must be in (0, 1)", t.DegradedDrop))
	}
	if t.SlowFactor < 1 || t.SlowMargin < 0 {
		errs = append(errs, fmt.Errorf("slow factor %v must be at least 1 and slow margin %v not negative", t.SlowFactor, t.SlowMargin))
	}
	if t.BrokenSuccess <= 0 || t.BrokenSuccess >= 1 {
		errs = append(errs, fmt.Errorf("broken success %v must be in (0, 1)", t.BrokenSuccess))
	}
	if t.BrokenP99 <= 0 {
		errs = append(errs, fmt.Errorf("broken p99 %v must be positive", t.BrokenP99))
	}
	if t.MinOps < 1 {
		errs = append(errs, fmt.Errorf("min ops %d must be at least 1", t.MinOps))
	}
	return errors.Join(errs...)
}

// SlowBound is the latency past which a request counts as slower than
// the baseline allows.
func (t Thresholds) SlowBound(base Stats) time.Duration {
	return max(time.Duration(t.SlowFactor*float64(base.P99)), base.P99+t.SlowMargin)
}

// Classify grades a feature's window under a fault (during) against its
// window just before (base), and says why.
func (t Thresholds) Classify(base, during Stats) (Effect, string) {
	if base.Count < t.MinOps || during.Count < t.MinOps {
		return NotJudged, fmt.Sprintf("%d requests before and %d during, fewer than the %d needed", base.Count, during.Count, t.MinOps)
	}
	figures := fmt.Sprintf("success %.1f%% -> %.1f%%, p99 %v -> %v", 100*base.Success, 100*during.Success,
		base.P99.Round(time.Millisecond), during.P99.Round(time.Millisecond))
	failed := during.Count - during.OK
	allowed := math.Min(1, 1-base.Success+t.DegradedDrop)
	if !(Miss{Bad: failed, N: during.Count, Allowed: allowed}).Significant() && !slower(during, t.SlowBound(base)) {
		return Unaffected, figures
	}
	// Significantly worse: how much worse is read as observed.
	if during.Success < t.BrokenSuccess || during.P99 > t.BrokenP99 {
		return Broken, figures
	}
	return Degraded, figures
}

// slower reports whether significantly more than 1% of s's requests took
// longer than d, counting requests slowed together as one (Stats.Stalls).
func slower(s Stats, d time.Duration) bool {
	slowN, stalls := s.Stalls(d)
	if stalls == 0 {
		return false
	}
	n := max(stalls, int(math.Round(float64(s.Count)/(float64(slowN)/float64(stalls)))))
	return Miss{Bad: stalls, N: n, Allowed: latencyAllowance}.Significant()
}
