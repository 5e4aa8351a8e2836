package mesh_test

import (
	"context"
	"errors"
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

func endpoint(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestRetriesOnlyIdempotentCalls(t *testing.T) {
	var hits atomic.Int32
	ep := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c := mesh.NewClient("dep", mesh.StaticResolver{ep}, mesh.NewMetrics("test"))
	err := c.Do(context.Background(), mesh.Call{Method: "POST", Path: "/x", Body: map[string]int{"a": 1}}, nil)
	var ce *mesh.CallError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 503, ce.Status)
	assert.EqualValues(t, 1, hits.Load(), "a POST without an idempotency key is never retried")

	hits.Store(0)
	err = c.Do(context.Background(), mesh.Call{Method: "POST", Path: "/x", IdempotencyKey: "k1"}, nil)
	require.Error(t, err)
	assert.EqualValues(t, mesh.DefaultAttempts, hits.Load(), "an idempotent call is retried")
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	var hits atomic.Int32
	ep := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		mesh.WriteJSON(w, 404, &mesh.Error{Code: "unknown_card", Detail: "no"})
	})
	c := mesh.NewClient("dep", mesh.StaticResolver{ep}, mesh.NewMetrics("test"))
	err := c.Do(context.Background(), mesh.Call{Method: "GET", Path: "/x"}, nil)
	var me *mesh.Error
	require.ErrorAs(t, err, &me)
	assert.Equal(t, 404, me.Status)
	assert.Equal(t, "unknown_card", me.Code)
	assert.EqualValues(t, 1, hits.Load())
}

func TestFailingEndpointIsEjected(t *testing.T) {
	var bad, good atomic.Int32
	badEP := endpoint(t, func(w http.ResponseWriter, r *http.Request) { bad.Add(1); w.WriteHeader(500) })
	goodEP := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		good.Add(1)
		mesh.WriteJSON(w, 200, map[string]bool{"ok": true})
	})
	c := mesh.NewClient("dep", mesh.StaticResolver{badEP, goodEP}, mesh.NewMetrics("test"), mesh.WithRetryBudget(mesh.NewRetryBudget(1, 1000)))
	for range 100 {
		require.NoError(t, c.Do(context.Background(), mesh.Call{Method: "GET", Path: "/x"}, nil))
	}
	assert.LessOrEqual(t, bad.Load(), int32(mesh.DefaultBreakerFails+1), "the breaker ejects the failing endpoint after %d failures", mesh.DefaultBreakerFails)
	assert.GreaterOrEqual(t, good.Load(), int32(100))
}

func TestDeadlinePropagates(t *testing.T) {
	got := make(chan time.Duration, 1)
	srv := mesh.NewServer("callee", mesh.NewMetrics("callee"))
	srv.Handle("GET /x", mesh.Handler(func(w http.ResponseWriter, r *http.Request) error {
		dl, _ := r.Context().Deadline()
		got <- time.Until(dl)
		assert.Equal(t, "req-1", r.Header.Get(mesh.HeaderRequestID))
		mesh.WriteJSON(w, 200, struct{}{})
		return nil
	}))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := mesh.NewClient("callee", mesh.StaticResolver{strings.TrimPrefix(ts.URL, "http://")}, mesh.NewMetrics("caller"))
	ctx := mesh.WithRequestID(context.Background(), "req-1")
	require.NoError(t, c.Do(ctx, mesh.Call{Method: "GET", Path: "/x", Timeout: 300 * time.Millisecond}, nil))
	d := <-got
	assert.Greater(t, d, 50*time.Millisecond)
	assert.LessOrEqual(t, d, 300*time.Millisecond, "the callee's deadline is the caller's remaining budget, not its own default")
}

func TestCancellationInterruptsDownstream(t *testing.T) {
	done := make(chan error, 1)
	ep := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			done <- r.Context().Err()
		case <-time.After(5 * time.Second):
			done <- nil
		}
	})
	c := mesh.NewClient("dep", mesh.StaticResolver{ep}, mesh.NewMetrics("test"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := c.Do(ctx, mesh.Call{Method: "POST", Path: "/x"}, nil)
	require.Error(t, err)
	select {
	case e := <-done:
		assert.Error(t, e, "the callee saw the cancellation")
	case <-time.After(2 * time.Second):
		t.Fatal("callee not interrupted")
	}
}

func TestRetryBudget(t *testing.T) {
	b := mesh.NewRetryBudget(0.1, 1)
	allowed := 0
	for range 1000 {
		b.OnRequest()
		if b.TryRetry() {
			allowed++
		}
	}
	// 10% of 1000 requests plus the floor's burst of 1 per second.
	assert.InDelta(t, 101, allowed, 3)
}

func TestAdminFaultHook(t *testing.T) {
	srv := mesh.NewServer("svc", mesh.NewMetrics("svc"), mesh.WithAdmin())
	srv.Handle("GET /v1/thing", mesh.Handler(func(w http.ResponseWriter, r *http.Request) error {
		mesh.WriteJSON(w, 200, struct{}{})
		return nil
	}))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	post := func(body string) int {
		resp, err := http.Post(ts.URL+"/admin/faults", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 400, post(`{"id":"f1","route":"/v1","error_rate":2,"status":503}`), "bad rates are refused")
	assert.Equal(t, 400, post(`{"id":"f1","route":"/v1","error_rate":1,"status":200}`), "a non-error status is refused")
	require.Equal(t, 200, post(`{"id":"f1","route":"/v1","error_rate":1,"status":503}`))
	resp, err := http.Get(ts.URL + "/v1/thing")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)
	req, _ := http.NewRequest("DELETE", ts.URL+"/admin/faults/f1", nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	resp, err = http.Get(ts.URL + "/v1/thing")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
}

// TestAdminHookApart: with the hook apart, the service's port refuses
// /admin and the admin handler alone injects, and the fault still acts on
// the service's routes.
func TestAdminHookApart(t *testing.T) {
	srv := mesh.NewServer("svc", mesh.NewMetrics("svc"), mesh.WithAdminApart())
	srv.Handle("GET /v1/thing", mesh.Handler(func(w http.ResponseWriter, r *http.Request) error {
		mesh.WriteJSON(w, 200, struct{}{})
		return nil
	}))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	require.NotNil(t, srv.AdminHandler())
	admin := httptest.NewServer(srv.AdminHandler())
	defer admin.Close()
	fault := `{"id":"f1","route":"/v1","error_rate":1,"status":503}`
	resp, err := http.Post(ts.URL+"/admin/faults", "application/json", strings.NewReader(fault))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 404, resp.StatusCode, "not on the service's port")
	resp, err = http.Post(admin.URL+"/admin/faults", "application/json", strings.NewReader(fault))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	resp, err = http.Get(ts.URL + "/v1/thing")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode, "the fault acts on the routes")
	assert.Nil(t, mesh.NewServer("svc", mesh.NewMetrics("svc"), mesh.WithAdmin()).AdminHandler())
}

func TestAdminHookOffByDefault(t *testing.T) {
	ts := httptest.NewServer(mesh.NewServer("svc", mesh.NewMetrics("svc")))
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/admin/faults", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.NotEqual(t, 200, resp.StatusCode)
}

func TestDecodeRejectsBadJSON(t *testing.T) {
	type req struct {
		Amount int64 `json:"amount"`
	}
	for name, body := range map[string]string{
		"malformed": `{"amount":`, "unknown field": `{"amount":1,"x":2}`, "trailing": `{"amount":1} {}`,
		"wrong type": `{"amount":"ten"}`, "empty": ``,
	} {
		t.Run(name, func(t *testing.T) {
			var v req
			err := mesh.DecodeBytes([]byte(body), &v)
			var me *mesh.Error
			require.True(t, errors.As(err, &me), "got %v", err)
			assert.Equal(t, 400, me.Status)
		})
	}
}

func TestRetryGoesToAnotherEndpoint(t *testing.T) {
	var bad, good atomic.Int32
	badEP := endpoint(t, func(w http.ResponseWriter, r *http.Request) { bad.Add(1); w.WriteHeader(503) })
	goodEP := endpoint(t, func(w http.ResponseWriter, r *http.Request) { good.Add(1); mesh.WriteJSON(w, 200, struct{}{}) })
	c := mesh.NewClient("dep", mesh.StaticResolver{badEP, goodEP}, mesh.NewMetrics("test"), mesh.WithRetryBudget(mesh.NewRetryBudget(1, 1000)))
	for range 4 {
		require.NoError(t, c.Do(context.Background(), mesh.Call{Method: "GET", Path: "/x"}, nil), "one retry always reaches the healthy endpoint")
	}
	assert.LessOrEqual(t, bad.Load(), int32(4))
}

func TestPanicModeStillTries(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	var hits atomic.Int32
	ep := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if fail.Load() {
			w.WriteHeader(500)
			return
		}
		mesh.WriteJSON(w, 200, struct{}{})
	})
	c := mesh.NewClient("dep", mesh.StaticResolver{ep}, mesh.NewMetrics("test"), mesh.WithAttempts(1))
	for range mesh.DefaultBreakerFails + 2 {
		_ = c.Do(context.Background(), mesh.Call{Method: "GET", Path: "/x"}, nil)
	}
	fail.Store(false)
	// The only endpoint's breaker is open; a call still reaches it.
	require.NoError(t, c.Do(context.Background(), mesh.Call{Method: "GET", Path: "/x"}, nil))
	assert.EqualValues(t, mesh.DefaultBreakerFails+3, hits.Load())
}
