package scenarios

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/system/mesh"
)

// Application (L7) and resource faults.

type retryCounts struct{ calls, retries, denied float64 }

func cardProcessingRetries(ctx context.Context, in *harness.Inspect) (retryCounts, error) {
	var c retryCounts
	var err error
	dep := map[string]string{"dep": "balance"}
	// The budget is per process and every call to any dependency deposits
	// into it, so the calls that count are all of them.
	if c.calls, err = in.Metric(ctx, "card-processing", "bank_client_calls_total", nil); err != nil {
		return c, err
	}
	if c.retries, err = in.Metric(ctx, "card-processing", "bank_client_retries_total", dep); err != nil {
		return c, err
	}
	c.denied, err = in.Metric(ctx, "card-processing", "bank_client_retry_budget_exhausted_total", dep)
	return c, err
}

func TestRetryStormPrevented(t *testing.T) {
	const period = 10 * time.Second
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: every balance replica answers 60% of reserve requests with HTTP 503 for 10s.
Expect: card-processing retries (the calls are idempotent) but its retry budget
caps retries at 20% of requests plus 5 per second, so balance sees no retry
storm; no money moves twice.`,
		Faults: []harness.Step{{At: 0, For: period, Fault: &faults.HTTPFault{Target: faults.All("balance"), Route: "/v1/reserve", ErrorRate: 0.6, Status: 503}}},
		Checks: []harness.Check{{
			Name:   "retry-budget",
			Before: func(ctx context.Context, in *harness.Inspect) (any, error) { return cardProcessingRetries(ctx, in) },
			After: func(ctx context.Context, in *harness.Inspect, before any) check.Result {
				b, _ := before.(retryCounts)
				a, err := cardProcessingRetries(ctx, in)
				if err != nil {
					return check.Result{Verdict: check.Unknown, Summary: err.Error()}
				}
				calls, retries := a.calls-b.calls, a.retries-b.retries
				allowed := mesh.DefaultRetryRatio*calls + mesh.DefaultRetryFloorRPS*(period.Seconds()+5)*2 // two replicas
				r := check.Result{Verdict: check.Valid, Summary: fmt.Sprintf("%.0f calls from card-processing, %.0f retries to balance (budget allows %.0f), %.0f retries refused by the budget",
					calls, retries, allowed, a.denied-b.denied)}
				if retries > allowed {
					r.Verdict, r.Summary = check.Invalid, "retry storm: "+r.Summary
				}
				if a.denied-b.denied == 0 && retries <= allowed {
					// Nothing pressed the budget (a shortened fault, or less
					// load reaching balance): it had no retry to refuse, so
					// whether it would have is not known.
					r.Verdict, r.Summary = check.Unknown, "the retries never pressed the budget, which refused none: "+r.Summary
				}
				return r
			},
		}},
	})
}

func TestCardsAnswersErrors(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: cards answers 20% of card look-ups with HTTP 500 for 10s.
Expect: card-processing's look-ups are idempotent reads, so a retry on another
attempt hides the errors: card authorisations hold.`,
		Faults: []harness.Step{{At: 0, For: 10 * time.Second, Fault: &faults.HTTPFault{Target: faults.All("cards"), Route: "/v1/cards/", ErrorRate: 0.2, Status: 500}}},
		Hold:   []string{"card-auth"},
		Checks: []harness.Check{
			harness.MetricRises("look-ups-retried", "card-processing", mesh.MetricRetries, map[string]string{"dep": "cards"}, 1,
				"card-processing retried the card look-ups that failed"),
		},
	})
}

func TestCPUPressureOnCardProcessing(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: both card-processing replicas are squeezed onto one core shared with two
busy processes, for 10s.
Expect: card authorisations slow down but stay within the network's deadline.`,
		Faults: []harness.Step{{At: 0, For: 10 * time.Second, Fault: &faults.CPUPressure{Target: faults.All("card-processing"), Burners: 2}}},
		Hold:   []string{"card-auth"},
	})
}
