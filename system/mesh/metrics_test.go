package mesh_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/mesh"
)

// value sums metric name over the samples of m whose labels include labels.
func value(t testing.TB, m *mesh.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	require.NoError(t, err)
	total := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	samples:
		for _, s := range f.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range s.GetLabel() {
					found = found || (lp.GetName() == k && lp.GetValue() == v)
				}
				if !found {
					continue samples
				}
			}
			total += s.GetCounter().GetValue() + s.GetGauge().GetValue()
		}
	}
	return total
}

func failing(t *testing.T, hits *atomic.Int32) string {
	return endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
}

func TestRetryMetrics(t *testing.T) {
	dep := map[string]string{"dep": "dep"}
	t.Run("sent", func(t *testing.T) {
		var hits atomic.Int32
		m := mesh.NewMetrics("test")
		c := mesh.NewClient("dep", mesh.StaticResolver{failing(t, &hits)}, m, mesh.WithRetryBudget(mesh.NewRetryBudget(1, 1000)))
		require.Error(t, c.Do(context.Background(), mesh.Call{Method: "GET", Path: "/x"}, nil))
		assert.EqualValues(t, mesh.DefaultAttempts-1, value(t, m, mesh.MetricRetries, dep))
		assert.Zero(t, value(t, m, mesh.MetricBudgetExhausted, dep))
	})
	t.Run("refused by the budget", func(t *testing.T) {
		var hits atomic.Int32
		m := mesh.NewMetrics("test")
		c := mesh.NewClient("dep", mesh.StaticResolver{failing(t, &hits)}, m, mesh.WithRetryBudget(mesh.NewRetryBudget(0, 0)))
		require.Error(t, c.Do(context.Background(), mesh.Call{Method: "GET", Path: "/x"}, nil))
		assert.EqualValues(t, 1, hits.Load(), "an empty budget lets no retry through")
		assert.Zero(t, value(t, m, mesh.MetricRetries, dep))
		assert.EqualValues(t, 1, value(t, m, mesh.MetricBudgetExhausted, dep))
	})
}

func TestBreakerTransitionsAreCounted(t *testing.T) {
	var bad atomic.Int32
	badEP := failing(t, &bad)
	goodEP := endpoint(t, func(w http.ResponseWriter, r *http.Request) { mesh.WriteJSON(w, 200, struct{}{}) })
	m := mesh.NewMetrics("test")
	c := mesh.NewClient("dep", mesh.StaticResolver{badEP, goodEP}, m, mesh.WithRetryBudget(mesh.NewRetryBudget(1, 1000)))
	assert.Zero(t, value(t, m, mesh.MetricBreakerChanges, nil), "no transition before any call")
	for range 40 {
		require.NoError(t, c.Do(context.Background(), mesh.Call{Method: "GET", Path: "/x"}, nil))
	}
	assert.EqualValues(t, 1, value(t, m, mesh.MetricBreakerChanges, map[string]string{"dep": "dep", "endpoint": badEP, "to": mesh.BreakerOpen}), "the failing endpoint is ejected once")
	assert.Zero(t, value(t, m, mesh.MetricBreakerChanges, map[string]string{"endpoint": goodEP}), "the healthy endpoint never changes state")
	assert.EqualValues(t, 1, value(t, m, mesh.MetricBreakerOpen, map[string]string{"endpoint": badEP}))
}

// hang answers only when the request's context ends, and reports that it did.
func hang(t *testing.T, ended chan<- error) string {
	return endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			ended <- r.Context().Err()
		case <-time.After(5 * time.Second):
			ended <- nil
		}
	})
}

func TestCallsEndedByTheCallerAreCounted(t *testing.T) {
	cancelled := func(m *mesh.Metrics, cause string) float64 {
		return value(t, m, mesh.MetricCallsCancelled, map[string]string{"dep": "dep", "cause": cause})
	}
	for name, tc := range map[string]struct {
		ctx   func() (context.Context, context.CancelFunc)
		call  mesh.Call
		cause string // "" when the call's own timeout ends it
	}{
		"caller cancels": {ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, call: mesh.Call{Method: "POST", Path: "/x"}, cause: mesh.CauseCancelled},
		"caller's deadline passes": {ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, call: mesh.Call{Method: "POST", Path: "/x"}, cause: mesh.CauseDeadline},
		"own timeout": {ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Minute)
		}, call: mesh.Call{Method: "POST", Path: "/x", Timeout: 50 * time.Millisecond}},
	} {
		t.Run(name, func(t *testing.T) {
			ended := make(chan error, 1)
			m := mesh.NewMetrics("test")
			c := mesh.NewClient("dep", mesh.StaticResolver{hang(t, ended)}, m)
			ctx, cancel := tc.ctx()
			defer cancel()
			require.Error(t, c.Do(ctx, tc.call, nil))
			require.Error(t, <-ended, "the callee's work is cancelled with the call")
			for _, cause := range []string{mesh.CauseCancelled, mesh.CauseDeadline} {
				want := 0.0
				if cause == tc.cause {
					want = 1
				}
				assert.Equal(t, want, cancelled(m, cause), cause)
			}
		})
	}
}

func TestSpentDeadlineIsNotSent(t *testing.T) {
	var hits atomic.Int32
	ep := endpoint(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1); mesh.WriteJSON(w, 200, struct{}{}) })
	m := mesh.NewMetrics("test")
	c := mesh.NewClient("dep", mesh.StaticResolver{ep}, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	time.Sleep(5 * time.Millisecond)
	err := c.Do(ctx, mesh.Call{Method: "GET", Path: "/x"}, nil)
	var ce *mesh.CallError
	require.ErrorAs(t, err, &ce)
	assert.True(t, ce.Timeout)
	assert.Zero(t, hits.Load(), "nothing is sent once the caller's deadline is spent")
	assert.EqualValues(t, 1, value(t, m, mesh.MetricDeadlineSpent, map[string]string{"dep": "dep"}))
	assert.Zero(t, value(t, m, mesh.MetricBreakerChanges, nil))

	require.NoError(t, c.Do(context.Background(), mesh.Call{Method: "GET", Path: "/x"}, nil))
	assert.EqualValues(t, 1, value(t, m, mesh.MetricDeadlineSpent, nil), "a call with time left is sent")
}

// A callee whose caller's propagated deadline passes counts the request as
// cut by the deadline; one whose caller hangs up counts it as cancelled.
func TestServerCountsRequestsCutByTheCaller(t *testing.T) {
	sm := mesh.NewMetrics("callee")
	srv := mesh.NewServer("callee", sm)
	srv.Handle("POST /x", mesh.Handler(func(w http.ResponseWriter, r *http.Request) error {
		select {
		case <-r.Context().Done():
			return r.Context().Err()
		case <-time.After(5 * time.Second):
			return nil
		}
	}))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	cut := func(cause string) float64 {
		return value(t, sm, mesh.MetricServerCut, map[string]string{"route": "POST /x", "cause": cause})
	}

	req, _ := http.NewRequest("POST", ts.URL+"/x", nil)
	req.Header.Set(mesh.HeaderDeadline, "50") // the caller has 50 ms left, and waits longer
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.EqualValues(t, 1, cut(mesh.CauseDeadline), "the deadline sent in X-Deadline-Ms ends the callee's request")
	assert.Zero(t, cut(mesh.CauseCancelled))

	req, _ = http.NewRequest("POST", ts.URL+"/x", nil) // no deadline header: the server's default applies
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	_, err = http.DefaultClient.Do(req.WithContext(ctx))
	require.Error(t, err)
	require.Eventually(t, func() bool { return cut(mesh.CauseCancelled) == 1 }, 2*time.Second, 5*time.Millisecond,
		"a caller that hangs up cancels the callee's request")
	assert.EqualValues(t, 1, cut(mesh.CauseDeadline))
}

func TestRateLimitedRequestsAreCounted(t *testing.T) {
	m := mesh.NewMetrics("svc")
	srv := mesh.NewServer("svc", m, mesh.WithRateLimit(1)) // a burst of 1
	srv.Handle("GET /x", mesh.Handler(func(w http.ResponseWriter, r *http.Request) error {
		mesh.WriteJSON(w, 200, struct{}{})
		return nil
	}))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	codes := map[int]int{}
	for range 5 {
		resp, err := http.Get(ts.URL + "/x")
		require.NoError(t, err)
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	require.Positive(t, codes[http.StatusTooManyRequests])
	assert.EqualValues(t, codes[http.StatusTooManyRequests], value(t, m, mesh.MetricRateLimited, map[string]string{"route": "GET /x"}))
	resp, err := http.Get(ts.URL + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the process's own routes are not limited")
}

// serve runs srv on a fresh listener until the returned stop is called; stop
// returns what Serve returned.
func serve(t *testing.T, srv *mesh.Server) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	return ln.Addr().String(), stop, done
}

func TestDrainMetrics(t *testing.T) {
	for name, tc := range map[string]struct {
		work        time.Duration // how long the request in flight at SIGTERM takes
		drain       time.Duration
		served, cut float64
	}{
		"drained":         {work: 600 * time.Millisecond, drain: 5 * time.Second, served: 1},
		"drain times out": {work: 5 * time.Second, drain: 50 * time.Millisecond, cut: 1},
	} {
		t.Run(name, func(t *testing.T) {
			m := mesh.NewMetrics("svc")
			srv := mesh.NewServer("svc", m, mesh.WithDrainTimeout(tc.drain))
			started := make(chan struct{})
			srv.Handle("GET /slow", mesh.Handler(func(w http.ResponseWriter, r *http.Request) error {
				close(started)
				time.Sleep(tc.work)
				mesh.WriteJSON(w, 200, struct{}{})
				return nil
			}))
			addr, stop, done := serve(t, srv)
			answered := make(chan error, 1)
			go func() {
				resp, err := http.Get("http://" + addr + "/slow")
				if err == nil {
					resp.Body.Close()
				}
				answered <- err
			}()
			<-started
			assert.EqualValues(t, 1, value(t, m, mesh.MetricInFlight, nil))
			stop() // SIGTERM
			require.Eventually(t, func() bool { return value(t, m, mesh.MetricDraining, nil) == 1 }, time.Second, time.Millisecond)
			resp, err := http.Get("http://" + addr + "/readyz")
			require.NoError(t, err, "the listener stays open for the pre-stop delay")
			resp.Body.Close()
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

			err = <-done
			assert.Equal(t, tc.cut > 0, err != nil, "Serve fails when the drain cuts requests: %v", err)
			assert.Equal(t, tc.served, value(t, m, mesh.MetricDrainRequests, map[string]string{"outcome": mesh.DrainServed}))
			assert.Equal(t, tc.cut, value(t, m, mesh.MetricDrainRequests, map[string]string{"outcome": mesh.DrainCut}))
			if tc.cut == 0 {
				assert.NoError(t, <-answered, "the request in flight at SIGTERM is answered")
			}
		})
	}
}

func TestConsumerMetrics(t *testing.T) {
	m := mesh.NewMetrics("svc")
	m.ConsumerHandled("enrichment", true)
	m.ConsumerHandled("enrichment", true)
	m.ConsumerHandled("enrichment", false)
	m.SetConsumerBacklog("enrichment", 7, 1)
	assert.EqualValues(t, 2, value(t, m, mesh.MetricConsumerMessages, map[string]string{"consumer": "enrichment", "outcome": "ok"}))
	assert.EqualValues(t, 1, value(t, m, mesh.MetricConsumerMessages, map[string]string{"outcome": "retry"}))
	assert.EqualValues(t, 7, value(t, m, mesh.MetricConsumerBacklog, nil))
	m.SetConsumerBacklog("enrichment", 0, 2)
	assert.Zero(t, value(t, m, mesh.MetricConsumerBacklog, nil), "a backlog is a level, not a count")
	assert.EqualValues(t, 2, value(t, m, mesh.MetricBacklogDelivery, nil), "read at the consumer's second delivery")
}

// An admin fault with a rate limit lowers the process's own limit, so the
// limiter (and its metric) can be exercised at the rates a test can send;
// removing the fault restores the configured limit.
func TestAdminRateLimitSqueeze(t *testing.T) {
	m := mesh.NewMetrics("svc")
	srv := mesh.NewServer("svc", m, mesh.WithAdmin())
	srv.Handle("GET /x", mesh.Handler(func(w http.ResponseWriter, r *http.Request) error {
		mesh.WriteJSON(w, 200, struct{}{})
		return nil
	}))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	burst := func() map[int]int {
		codes := map[int]int{}
		for range 20 {
			resp, err := http.Get(ts.URL + "/x")
			require.NoError(t, err)
			resp.Body.Close()
			codes[resp.StatusCode]++
		}
		return codes
	}
	require.Equal(t, map[int]int{200: 20}, burst(), "the default limit admits a small burst")

	resp, err := http.Post(ts.URL+"/admin/faults", "application/json", strings.NewReader(`{"id":"squeeze","route":"/","rate_limit":4}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	codes := burst()
	assert.Positive(t, codes[http.StatusTooManyRequests], "the squeezed limiter refuses the excess: %v", codes)
	assert.EqualValues(t, codes[http.StatusTooManyRequests], value(t, m, mesh.MetricRateLimited, nil))

	req, _ := http.NewRequest("DELETE", ts.URL+"/admin/faults/squeeze", nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	time.Sleep(100 * time.Millisecond) // the restored limit refills the bucket (400 tokens in 100 ms)
	assert.Equal(t, map[int]int{200: 20}, burst(), "removing the fault restores the limit")
}

// A 429 is a refusal of one endpoint, not an answer: the call is retried on
// another endpoint, within the budget.
func TestRateLimitedCallIsRetriedElsewhere(t *testing.T) {
	var refused, served atomic.Int32
	busy := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		refused.Add(1)
		mesh.WriteJSON(w, http.StatusTooManyRequests, &mesh.Error{Code: "rate_limited"})
	})
	idle := endpoint(t, func(w http.ResponseWriter, r *http.Request) { served.Add(1); mesh.WriteJSON(w, 200, struct{}{}) })
	m := mesh.NewMetrics("test")
	c := mesh.NewClient("dep", mesh.StaticResolver{busy, idle}, m, mesh.WithRetryBudget(mesh.NewRetryBudget(1, 1000)))
	for range 4 {
		require.NoError(t, c.Do(context.Background(), mesh.Call{Method: "GET", Path: "/x"}, nil))
	}
	assert.Positive(t, refused.Load())
	assert.EqualValues(t, refused.Load(), value(t, m, mesh.MetricRetries, nil), "every refusal was retried")
}
