package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/mesh"
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
	// inherited says what deferred work an earlier scenario had left
	// when this one began (inheritedWork); "" when none.
	inherited string
}

// unlessInherited makes r, a check that deferred work caught up, unknown
// instead of invalid when the scenario began with deferred work an earlier
// one left: what is left at its end is then not only its own doing.
func (in *Inspect) unlessInherited(r check.Result) check.Result {
	if r.Verdict != check.Invalid || in.inherited == "" {
		return r
	}
	r.Verdict = check.Unknown
	r.Summary = fmt.Sprintf("not judged: the scenario began behind (%s), so what was left at its end is not only its own; it read: %s",
		in.inherited, r.Summary)
	return r
}

// Ops returns the scenario's history so far.
func (in *Inspect) Ops() []history.Op { return in.s.hist.Ops(in.scenario) }

// Data returns the seeded customers.
func (in *Inspect) Data() seed.Data { return in.s.data }

// Metric sums a counter or gauge over every instance of service, keeping
// only samples whose labels include labels. An instance that cannot be read
// makes it fail.
func (in *Inspect) Metric(ctx context.Context, service, name string, labels map[string]string) (float64, error) {
	per, err := in.MetricByInstance(ctx, service, name, labels)
	if err != nil {
		return 0, err
	}
	total := 0.0
	for _, v := range per {
		total += v
	}
	return total, nil
}

// MetricByInstance is Metric per instance (keyed by instance name). It reads
// every instance it can and returns what it read with the errors of those
// it could not read, joined.
func (in *Inspect) MetricByInstance(ctx context.Context, service, name string, labels map[string]string) (map[string]float64, error) {
	out := map[string]float64{}
	var errs []error
	for _, inst := range in.s.plat.Instances(service) {
		v, err := in.s.scrape(ctx, inst, name, labels)
		if err != nil {
			errs = append(errs, fmt.Errorf("metrics of %s: %w", inst.Name, err))
			continue
		}
		out[inst.Name] = v
	}
	return out, errors.Join(errs...)
}

// Events returns the scenario's fault, platform and phase events so far.
func (in *Inspect) Events() []history.Event { return in.s.hist.Events(in.scenario) }

// scrape reads inst's /metrics and sums the samples of name whose labels
// include labels.
func (s *suite) scrape(ctx context.Context, inst platform.Instance, name string, labels map[string]string) (float64, error) {
	addr, err := s.endpoint(ctx, inst)
	if err != nil {
		return 0, err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url(addr, "/metrics"), nil)
	if ep, err := platform.As[platform.Endpoints](s.plat, "reading metrics"); err == nil {
		platform.Authorize(req, ep)
	}
	resp, err := s.http().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, err
	}
	total := 0.0
	fam := fams[name]
	if fam == nil {
		return 0, nil
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
	return total, nil
}

// AsCustomer calls GET path on edge (through its ingress, as the
// customer's app does) with customer c's session, and decodes the JSON
// answer into v: what the customer sees.
func (in *Inspect) AsCustomer(ctx context.Context, c seed.Customer, path string, v any) error {
	addrs := in.s.ingress.Edge()
	if len(addrs) == 0 {
		return errors.New("no edge instance")
	}
	var err error
	for _, addr := range addrs {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.s.ingress.URL(addr, path), nil)
		req.Header.Set("Authorization", "Bearer "+c.Token)
		var resp *http.Response
		if resp, err = in.s.customerHTTP().Do(req); err != nil {
			continue
		}
		err = json.NewDecoder(resp.Body).Decode(v)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s on edge at %s as %s: status %d", path, addr, c.ID, resp.StatusCode)
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

// Backlog returns how many messages the durable consumer of service has
// not yet acknowledged, as the replica that took the latest delivery says
// (mesh.MetricBacklogDelivery): each replica knows the backlog only as of
// a message it took, so the sum, or the replica that reported last (it may
// be working through messages it took long ago), can show messages
// another replica has long since handled.
func (in *Inspect) Backlog(ctx context.Context, service, consumer string) (float64, error) {
	labels := map[string]string{"consumer": consumer}
	n, err := in.MetricByInstance(ctx, service, mesh.MetricConsumerBacklog, labels)
	if err != nil {
		return 0, err
	}
	at, err := in.MetricByInstance(ctx, service, mesh.MetricBacklogDelivery, labels)
	if err != nil {
		return 0, err
	}
	best, last := 0.0, -1.0
	for inst, v := range n {
		if d := at[inst]; d > last {
			best, last = v, d
		}
	}
	return best, nil
}
