// Package check holds Faultline's checkers. Each reads only a run's history
// (and, for money, the bank's audit as saved with it) and returns a Result:
// valid, invalid or unknown, with the first violating examples. Checkers
// never fail a test themselves; the runner decides what a result means.
package check

import (
	"fmt"
	"sort"
	"time"

	"github.com/faultline/faultline/groundwork/history"
)

// Verdict of a check.
type Verdict string

// Verdicts.
const (
	Valid   Verdict = "valid"
	Invalid Verdict = "invalid"
	Unknown Verdict = "unknown" // not enough data to say
)

// Result is one checker's finding.
type Result struct {
	Check    string   `json:"check"`             // slo, recovery, money, answers, exercise, tier-contract, leftovers, load
	Journey  string   `json:"journey,omitempty"` // when about one journey
	Window   string   `json:"window,omitempty"`  // steady, during, after
	Verdict  Verdict  `json:"verdict"`
	Summary  string   `json:"summary"`
	Examples []string `json:"examples,omitempty"` // the first violations
	// Informational marks a result whose unknown verdict does not make the
	// scenario unknown (see Counts).
	Informational bool `json:"informational,omitempty"`
}

// MaxExamples bounds the examples a result carries.
const MaxExamples = 5

// SLO is a journey's service level objective over a window.
type SLO struct {
	MinSuccess float64       `json:"min_success"` // share of ops with outcome ok
	P99        time.Duration `json:"p99"`         // 99th percentile latency bound
	MinOps     int           `json:"min_ops"`     // fewer ops than this: unknown
}

// Validate checks an SLO's values.
func (s SLO) Validate() error {
	if s.MinSuccess < 0 || s.MinSuccess > 1 {
		return fmt.Errorf("min success %v is not in [0,1]", s.MinSuccess)
	}
	if s.P99 <= 0 {
		return fmt.Errorf("p99 bound %v must be positive", s.P99)
	}
	return nil
}

// Stats are a journey's figures over a window.
type Stats struct {
	Journey string        `json:"journey"`
	Window  string        `json:"window"`
	From    time.Duration `json:"from"`
	To      time.Duration `json:"to"`
	Count   int           `json:"count"`
	OK      int           `json:"ok"`
	Fail    int           `json:"fail"`
	Unknown int           `json:"unknown"`
	Success float64       `json:"success"`
	P50     time.Duration `json:"p50"`
	P95     time.Duration `json:"p95"`
	P99     time.Duration `json:"p99"`
	Max     time.Duration `json:"max"`

	sorted []time.Duration // every latency, ascending
	spans  []span          // every request's start and latency, in start order
}

// span is one request's time in flight.
type span struct{ start, latency time.Duration }

// Compute returns the stats of journey's requests that belong to w (by
// Window.Contains). Percentiles are exact (sorted samples), over every
// request, failed ones included.
func Compute(ops []history.Op, journey string, w Window) Stats {
	s := Stats{Journey: journey, Window: w.Name, From: w.From, To: w.To}
	lats := make([]time.Duration, 0, 64)
	for _, o := range ops {
		if o.Journey != journey || !w.Contains(o) {
			continue
		}
		s.Count++
		switch o.Outcome {
		case history.OK:
			s.OK++
		case history.Fail:
			s.Fail++
		default:
			s.Unknown++
		}
		lats = append(lats, o.Latency)
		s.spans = append(s.spans, span{o.Start, o.Latency})
	}
	if s.Count == 0 {
		return s
	}
	s.Success = float64(s.OK) / float64(s.Count)
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	s.sorted = lats
	sort.Slice(s.spans, func(i, j int) bool { return s.spans[i].start < s.spans[j].start })
	s.P50, s.P95, s.P99, s.Max = Quantile(lats, 0.50), Quantile(lats, 0.95), Quantile(lats, 0.99), lats[len(lats)-1]
	return s
}

// Quantile returns the q-quantile of sorted samples (nearest rank). It is
// the one percentile function of Faultline: checks, charts and benchmarks
// all use it.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// CheckSLO checks journey's ops in w against slo. Its examples are the
// first failed or slow ops.
func CheckSLO(ops []history.Op, journey string, w Window, slo SLO) (Result, Stats) {
	s := Compute(ops, journey, w)
	v, why := slo.Holds(s)
	r := Result{Check: "slo", Journey: journey, Window: w.Name, Verdict: v, Summary: why}
	if v == Invalid {
		for _, o := range ops {
			if o.Journey != journey || !w.Contains(o) {
				continue
			}
			if o.Outcome != history.OK || o.Latency > slo.P99 {
				r.Examples = append(r.Examples, DescribeOp(o))
				if len(r.Examples) == MaxExamples {
					break
				}
			}
		}
	}
	return r, s
}

// DescribeOp renders an op for an example line.
func DescribeOp(o history.Op) string {
	s := fmt.Sprintf("t=%v %s %s status=%d latency=%v", o.Start.Round(time.Millisecond), o.Journey, o.Outcome, o.Status, o.Latency.Round(time.Microsecond))
	if o.Key != "" {
		s += " key=" + o.Key
	}
	if o.Result != "" {
		s += " result=" + o.Result
	}
	if o.Error != "" {
		s += " error=" + o.Error
	}
	return s
}
