package scenarios

import (
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/system/mesh"
)

// Rate limiting: the bank's limit (4000 requests per second a process) is
// far above what this machine can send, so the scenario lowers it.

func TestRateLimitSheds(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: lower the rate limit of every cards replica to 15 requests per second
at the default load, scaled with the load the suite runs at, for 10s
(card-processing looks up about 25 cards a second on each at the default
load), as a mesh's rate-limit policy would.
Expect: cards refuses the excess with 429 at once rather than queueing it (its
rate limiter acts); card-processing retries refused look-ups within its budget;
every authorisation is answered within the network's deadline, those that got
no look-up declined "issuer unavailable" without moving money; card
authorisations recover once the limit is back.`,
		Faults: []harness.Step{{At: 0, For: 10 * time.Second, Fault: &faults.HTTPFault{Target: faults.All("cards"), Route: "/", RateLimit: harness.AtLoad(15)}}},
		Hold:   []string{"card-auth"},
		HoldSLO: map[string]check.SLO{
			"card-auth": {MinSuccess: 0, P99: 1500 * time.Millisecond, MinOps: 5}, // answered in time, declined cleanly
		},
		Checks: []harness.Check{
			harness.MetricRises("rate-limited", "cards", mesh.MetricRateLimited, nil, 1,
				"cards' rate limiter refused requests over its rate with 429"),
			harness.MetricRises("refusals-retried", "card-processing", mesh.MetricRetries, map[string]string{"dep": "cards"}, 1,
				"card-processing retried look-ups that cards refused"),
		},
	})
}
