package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/system/seed"
	"github.com/faultline/faultline/system/transactions"
)

// TestClientRetriesACutConnectionWithTheSameKey cuts the first attempt's
// connection (as a killed instance does) and checks that the app sends the
// payment again with the same Idempotency-Key, that the history keeps the
// cut attempt as superseded (for the money checks) and the customer's
// request as one ok answer taking the whole time.
func TestClientRetriesACutConnectionWithTheSameKey(t *testing.T) {
	var hits atomic.Int32
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		if hits.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			conn.Close() // reset: no answer
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"approved"}`))
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	h, g := testGen(t, addr)
	st, err := Attack(context.Background(), h, "s", g, []Plan{{Journey: "payments", Rate: 1, Duration: 1500 * time.Millisecond}})
	require.NoError(t, err)
	require.Len(t, st, 1)

	ops := h.Ops("s")
	var final, superseded []history.Op
	for _, o := range ops {
		if o.Superseded {
			superseded = append(superseded, o)
		} else {
			final = append(final, o)
		}
	}
	require.Len(t, superseded, 1, "the cut attempt is kept")
	require.NotEmpty(t, final)
	assert.Equal(t, history.Unknown, superseded[0].Outcome)
	assert.Equal(t, history.OK, final[0].Outcome, "the customer saw the retry's answer")
	assert.Equal(t, "approved", final[0].Result)
	assert.Equal(t, 2, final[0].Attempts)
	assert.Equal(t, superseded[0].Key, final[0].Key, "the same payment")
	assert.GreaterOrEqual(t, final[0].Latency, App.Backoff, "the customer waited for both attempts")
	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, len(keys), 2)
	assert.Equal(t, keys[0], keys[1], "the retry carries the same Idempotency-Key")
	assert.NotEmpty(t, keys[0])
}

func TestClientGivesUpAfterItsAttempts(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	h, g := testGen(t, addr)
	_, err := Attack(context.Background(), h, "s", g, []Plan{{Journey: "card-auth", Rate: 1, Duration: 1100 * time.Millisecond}})
	require.NoError(t, err)
	var final []history.Op
	sup := 0
	for _, o := range h.Ops("s") {
		if o.Superseded {
			sup++
		} else {
			final = append(final, o)
		}
	}
	require.NotEmpty(t, final)
	for _, o := range final {
		assert.Equal(t, CardNetwork.Attempts, o.Attempts)
		assert.Equal(t, history.Unknown, o.Outcome, "no answer in the end")
	}
	assert.Equal(t, (CardNetwork.Attempts-1)*len(final), sup)
	assert.Equal(t, int32(CardNetwork.Attempts*len(final)), hits.Load())
}

// TestAskedCountsOnlyWhileSending stops an attack whose answers take a
// second: what was asked is counted up to the stop, not up to the last
// answer, so slow answers in flight at the end are not read as load the
// generator failed to send.
func TestAskedCountsOnlyWhileSending(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Second)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"approved"}`))
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	h, g := testGen(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	st, err := Attack(ctx, h, "s", g, []Plan{{Journey: "payments", Rate: 20, Duration: time.Minute}})
	require.NoError(t, err)
	require.Len(t, st, 1)
	require.GreaterOrEqual(t, time.Since(start), 2900*time.Millisecond, "the last answers came a second after the stop")
	assert.InDelta(t, 39, st[0].Asked, 3, "asked for the 2 s of sending: %v", st[0])
	assert.False(t, st[0].Underdrive, "%v", st[0])
}

// testGen is a history and a generator of two customers whose edge and
// card-api are both addr.
func testGen(t *testing.T, addr string) (*history.History, *Gen) {
	t.Helper()
	h, err := history.New("")
	require.NoError(t, err)
	d := seed.Data{Customers: []seed.Customer{{ID: "c1", Account: "a1", Token: "t1", Card: "k1"}, {ID: "c2", Account: "a2", Token: "t2", Card: "k2"}},
		Merchants: []transactions.Merchant{{ID: "m1"}}}
	return h, NewGen(d, Ingress{Edge: func() []string { return []string{addr} }, CardAPI: func() []string { return []string{addr} }}, 1, "test")
}
