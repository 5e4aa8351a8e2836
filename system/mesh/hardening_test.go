package mesh_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/mesh"
)

// encoding/json matches keys without regard to case: "AMOUNT" would set
// amount. A money route must take only the names it documents.
func TestDecodeTakesOnlyExactKeys(t *testing.T) {
	type merchant struct {
		ID string `json:"id"`
	}
	type req struct {
		Amount   int64             `json:"amount"`
		Merchant merchant          `json:"merchant"`
		Items    []merchant        `json:"items,omitempty"`
		Tags     map[string]string `json:"tags,omitempty"`
	}
	for body, ok := range map[string]bool{
		`{"amount":1,"merchant":{"id":"m"}}`:                   true,
		`{"amount":1,"items":[{"id":"a"}],"tags":{"ANY":"x"}}`: true,
		`{"AMOUNT":1}`:                       false,
		`{"amount":1,"merchant":{"ID":"m"}}`: false,
		`{"items":[{"Id":"a"}]}`:             false,
	} {
		var v req
		err := mesh.DecodeBytes([]byte(body), &v)
		if ok {
			assert.NoError(t, err, body)
			continue
		}
		var me *mesh.Error
		require.True(t, errors.As(err, &me), "%s: %v", body, err)
		assert.Equal(t, 400, me.Status, body)
	}
}

// A 5xx answer names no internal address or error text: the dependency
// that failed, and a request ID to find the log line by.
func TestErrorBodiesHideInternals(t *testing.T) {
	w := httptest.NewRecorder()
	mesh.WriteError(w, &mesh.CallError{Dep: "balance", Endpoint: "127.0.0.1:40123", Err: errors.New("dial tcp 127.0.0.1:40123: connection refused")})
	assert.Equal(t, 503, w.Code)
	assert.NotContains(t, w.Body.String(), "127.0.0.1")
	assert.Contains(t, w.Body.String(), "balance")

	w = httptest.NewRecorder()
	mesh.WriteError(w, errors.New("nats: timeout on store-1 at 10.0.0.3:4222"))
	assert.Equal(t, 500, w.Code)
	assert.NotContains(t, w.Body.String(), "10.0.0.3")
}

// Routes that do not exist answer in JSON like every other error, 405
// with its Allow header.
func TestUnmatchedRoutesAnswerJSON(t *testing.T) {
	s := mesh.NewServer("cards", mesh.NewMetrics("cards"))
	s.Handle("GET /v1/cards/{id}", mesh.Handler(func(w http.ResponseWriter, r *http.Request) error { return nil }))
	addr := endpoint(t, s.ServeHTTP)
	for path, want := range map[string]int{"/nowhere": 404, "/v1/cards/c1": 405} {
		method := "GET"
		if want == 405 {
			method = "DELETE"
		}
		req, _ := http.NewRequest(method, "http://"+addr+path, nil)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var e mesh.Error
		assert.NoError(t, json.NewDecoder(resp.Body).Decode(&e), path)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, path)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), path)
		if want == 405 {
			assert.Contains(t, resp.Header.Get("Allow"), "GET")
		}
	}
}

// A caller's request ID is kept only if it is short and plain; a caller's
// deadline is clamped to what the server takes.
func TestCallerHeadersAreBounded(t *testing.T) {
	s := mesh.NewServer("edge", mesh.NewMetrics("edge"))
	s.ClampDeadlines(2 * time.Second)
	var left time.Duration
	s.Handle("GET /v1/x", mesh.Handler(func(w http.ResponseWriter, r *http.Request) error {
		dl, _ := r.Context().Deadline()
		left = time.Until(dl)
		mesh.WriteJSON(w, 200, map[string]string{"id": mesh.RequestID(r.Context())})
		return nil
	}))
	addr := endpoint(t, s.ServeHTTP)
	get := func(id, deadline string) string {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/x", nil)
		req.Header.Set(mesh.HeaderRequestID, id)
		req.Header.Set(mesh.HeaderDeadline, deadline)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		return resp.Header.Get(mesh.HeaderRequestID)
	}
	assert.Equal(t, "req-1.a", get("req-1.a", "500"))
	assert.LessOrEqual(t, left, 500*time.Millisecond)
	long := strings.Repeat("x", 16<<10)
	got := get(long, "600000")
	assert.NotEqual(t, long, got, "a 16 KiB request ID is replaced")
	assert.Len(t, got, 32)
	assert.LessOrEqual(t, left, 2*time.Second, "a 10-minute deadline is clamped")
	assert.NotEqual(t, "<script> x", get("<script> x", "100"))
}

// A header value with a newline comes from a caller's input: the call is
// refused as a bad request before it is sent, and the healthy endpoint's
// breaker never sees it.
func TestCallWithUnsafeHeaderIsRefusedUnsent(t *testing.T) {
	calls := 0
	addr := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		_, _ = io.Copy(io.Discard, r.Body)
		mesh.WriteJSON(w, 200, map[string]string{})
	})
	c := mesh.NewClient("cards", mesh.StaticResolver{addr}, mesh.NewMetrics("test"))
	for range 10 {
		err := c.Do(context.Background(), mesh.Call{Method: "PUT", Path: "/v1/cards/c1/status", IdempotencyKey: "status:c1:frozen\n",
			Body: bytes.NewReader(nil)}, nil)
		var me *mesh.Error
		require.True(t, errors.As(err, &me), "%v", err)
		assert.Equal(t, 400, me.Status)
	}
	assert.Zero(t, calls)
	require.NoError(t, c.Do(context.Background(), mesh.Call{Method: "PUT", Path: "/v1/cards/c1/status", IdempotencyKey: "status:c1:frozen"}, nil),
		"the endpoint is still in service")
	assert.Equal(t, 1, calls)
}
