package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/journal"
	"github.com/faultline/faultline/harness/platform"
	"github.com/faultline/faultline/system/mesh"
)

// Rate limiting: the bank's limit (4000 requests per second a process) is
// far above what this machine can send, so the scenario lowers it.

func TestRateLimitSheds(t *testing.T) {
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: lower the rate limit of every cards replica to 15 requests per second
for 10s (card-processing looks up about 25 cards a second on each), as a mesh's
rate-limit policy would.
Expect: cards refuses the excess with 429 at once rather than queueing it (its
rate limiter acts); card-processing retries refused look-ups within its budget;
every authorisation is answered within the network's deadline, those that got
no look-up declined "issuer unavailable" without moving money; card
authorisations recover once the limit is back.`,
		Faults: []harness.Step{{At: 0, For: 10 * time.Second, Fault: &rateSqueeze{Target: faults.All("cards"), RPS: 15}}},
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

// rateSqueeze lowers the process-wide rate limit of the selected instances
// to RPS requests per second through their admin hook (an admin fault with
// a rate_limit, listed in /admin/faults like any other), and restores it on
// Recover. It lives here, next to its only scenario.
type rateSqueeze struct {
	Target faults.Selector
	RPS    int

	insts []platform.Instance
}

var _ faults.Fault = (*rateSqueeze)(nil)

var adminClient = &http.Client{Timeout: 2 * time.Second}

// Name implements faults.Fault.
func (f *rateSqueeze) Name() string { return fmt.Sprintf("rate limit of %s at %d/s", f.Target, f.RPS) }

// Services implements faults.Targeted.
func (f *rateSqueeze) Services() []string { return []string{f.Target.Service} }

// Validate implements faults.Fault.
func (f *rateSqueeze) Validate() error {
	if f.RPS <= 0 {
		return fmt.Errorf("rate squeeze: %d requests per second must be positive", f.RPS)
	}
	return f.Target.Validate()
}

func admin(ctx context.Context, method, url string, body any) (*http.Response, error) {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return adminClient.Do(req)
}

// Inject implements faults.Fault.
func (f *rateSqueeze) Inject(ctx context.Context, env *faults.Env) error {
	insts, err := f.Target.Pick(env)
	if err != nil {
		return err
	}
	f.insts = insts
	var names []string
	for _, in := range insts {
		names = append(names, in.Name)
	}
	if err := env.Journal.Write(journal.Entry{Kind: "http", ID: env.ID, Target: strings.Join(names, ",")}); err != nil {
		return err
	}
	spec := mesh.Fault{ID: env.ID, Route: "/", RateLimit: f.RPS}
	for _, in := range insts {
		resp, err := admin(ctx, http.MethodPost, "http://"+in.Addr+"/admin/faults", spec)
		if err != nil {
			return fmt.Errorf("squeeze %s: %w", in.Name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("squeeze %s: admin hook answered %d (is --admin set?)", in.Name, resp.StatusCode)
		}
	}
	return nil
}

// Verify implements faults.Fault: every instance lists the squeeze.
func (f *rateSqueeze) Verify(ctx context.Context, env *faults.Env) (string, error) {
	for _, in := range f.insts {
		resp, err := admin(ctx, http.MethodGet, "http://"+in.Addr+"/admin/faults", nil)
		if err != nil {
			return "", err
		}
		var list []mesh.Fault
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		found := false
		for _, l := range list {
			found = found || (l.ID == env.ID && l.RateLimit == f.RPS)
		}
		if err != nil || !found {
			return "", fmt.Errorf("%s does not list rate limit %s", in.Name, env.ID)
		}
	}
	return fmt.Sprintf("rate limit %d/s active on %d instances of %s", f.RPS, len(f.insts), f.Target.Service), nil
}

// Recover implements faults.Fault. An instance restarted meanwhile has its
// configured limit back already.
func (f *rateSqueeze) Recover(ctx context.Context, env *faults.Env) error {
	var errs []error
	for _, in := range f.insts {
		resp, err := admin(ctx, http.MethodDelete, "http://"+in.Addr+"/admin/faults/"+env.ID, nil)
		if err == nil {
			resp.Body.Close()
		}
		errs = append(errs, err)
	}
	return errors.Join(append(errs, env.Journal.Remove(env.ID))...)
}
