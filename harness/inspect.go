package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/system/seed"
)

// Check is a scenario's own expectation, beyond the standard checks. Before
// runs just before the first fault and may capture a baseline; After runs
// once the queues have drained and returns the verdict.
type Check struct {
	Name   string
	Before func(ctx context.Context, in *Inspect) (any, error)
	After  func(ctx context.Context, in *Inspect, before any) check.Result
}

// Inspect is what a scenario's own checks may look at: the scenario's
// history, the seeded data, and the bank's documented endpoints (metrics and
// service APIs, reached directly, without faults).
type Inspect struct {
	s        *suite
	scenario string
}

// Ops returns the scenario's history so far.
func (in *Inspect) Ops() []history.Op { return in.s.hist.Ops(in.scenario) }

// Data returns the seeded customers.
func (in *Inspect) Data() seed.Data { return in.s.data }

// Metric sums a counter or gauge over every instance of service, keeping
// only samples whose labels include labels.
func (in *Inspect) Metric(ctx context.Context, service, name string, labels map[string]string) (float64, error) {
	total := 0.0
	for _, inst := range in.s.plat.Instances(service) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+inst.Addr+"/metrics", nil)
		resp, err := adminHTTP.Do(req)
		if err != nil {
			return 0, fmt.Errorf("metrics of %s: %w", inst.Name, err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("metrics of %s: %w", inst.Name, err)
		}
		fam := fams[name]
		if fam == nil {
			continue
		}
	metrics:
		for _, m := range fam.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == k && lp.GetValue() == v)
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				total += m.GetCounter().GetValue()
			case m.Gauge != nil:
				total += m.GetGauge().GetValue()
			}
		}
	}
	return total, nil
}

// Get calls GET path on one instance of service as customer (X-Customer) and
// decodes the JSON answer into v.
func (in *Inspect) Get(ctx context.Context, service, path, customer string, v any) error {
	insts := in.s.plat.Instances(service)
	if len(insts) == 0 {
		return fmt.Errorf("no instance of %s", service)
	}
	var err error
	for _, inst := range insts {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+inst.Addr+path, nil)
		req.Header.Set("X-Customer", customer)
		var resp *http.Response
		if resp, err = adminHTTP.Do(req); err != nil {
			continue
		}
		err = json.NewDecoder(resp.Body).Decode(v)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s on %s: status %d", path, inst.Name, resp.StatusCode)
		}
		if err == nil {
			return nil
		}
	}
	return err
}

// Eventually retries f until it returns nil or limit passes.
func (in *Inspect) Eventually(ctx context.Context, limit time.Duration, f func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
