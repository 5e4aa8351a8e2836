package mesh_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/mesh"
)

// A dependency with one endpoint that never answers (a paused process, a
// lost machine) and one healthy one (each try given 60% of 250 ms, above
// the 100 ms under which an unanswered try is not held against an endpoint): every call succeeds through the healthy
// one, the silent one is ejected after two unanswered tries, and each probe
// that goes unanswered keeps it out twice as long as the last time. The
// gaps are checked from below only, so a slow machine cannot fail the test;
// with the old rule (five failures, then a fixed period) the third try came
// one call later.
func TestSilentEndpointIsEjectedForLongerEachTime(t *testing.T) {
	const first, most = 300 * time.Millisecond, 1200 * time.Millisecond
	var mu sync.Mutex
	var arrivals []time.Time
	silent := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		<-r.Context().Done() // never answers
	})
	good := endpoint(t, func(w http.ResponseWriter, r *http.Request) { mesh.WriteJSON(w, 200, struct{}{}) })
	c := mesh.NewClient("dep", mesh.StaticResolver{silent, good}, mesh.NewMetrics("test"),
		mesh.WithCallTimeout(250*time.Millisecond), mesh.WithEjection(first, most),
		mesh.WithRetryBudget(mesh.NewRetryBudget(1, 1000)))

	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		require.NoError(t, c.Do(context.Background(), mesh.Call{Method: "GET", Path: "/x"}, nil), "a retry reaches the healthy endpoint")
	}

	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, len(arrivals), 4, "the silent endpoint is ejected after two tries and probed again after each ejection")
	want := first
	for i := 2; i < len(arrivals); i++ {
		gap := arrivals[i].Sub(arrivals[i-1])
		assert.GreaterOrEqual(t, gap, want-10*time.Millisecond, "try %d came %v after the last: ejected for %v", i+1, gap, want)
		want = min(2*want, most)
	}
	assert.Less(t, arrivals[1].Sub(arrivals[0]), first, "the first two tries are not apart by an ejection")
}

// An ejected endpoint that answers its probes again takes its share of the
// calls again.
func TestEndpointBackAfterEjection(t *testing.T) {
	var mu sync.Mutex
	hang := true
	hits := 0
	ep := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hang
		hits++
		mu.Unlock()
		if h {
			<-r.Context().Done()
			return
		}
		mesh.WriteJSON(w, 200, struct{}{})
	})
	good := endpoint(t, func(w http.ResponseWriter, r *http.Request) { mesh.WriteJSON(w, 200, struct{}{}) })
	c := mesh.NewClient("dep", mesh.StaticResolver{ep, good}, mesh.NewMetrics("test"),
		mesh.WithCallTimeout(250*time.Millisecond), mesh.WithEjection(100*time.Millisecond, 200*time.Millisecond),
		mesh.WithRetryBudget(mesh.NewRetryBudget(1, 1000)))
	call := func() { require.NoError(t, c.Do(context.Background(), mesh.Call{Method: "GET", Path: "/x"}, nil)) }
	for range 10 {
		call()
	}
	mu.Lock()
	hang, hits = false, 0
	mu.Unlock()
	time.Sleep(250 * time.Millisecond) // the longest ejection has run out
	for range 20 {
		call()
	}
	mu.Lock()
	defer mu.Unlock()
	assert.GreaterOrEqual(t, hits, 8, "once it answers its probes the endpoint takes its share again")
}

// An endpoint whose ejection has run out gets a few probes, and until they
// are answered its breaker refuses any other try at once. Callers pass it
// over, and a try it refuses anyway (a race with another caller's probe)
// sent nothing, so it goes to another endpoint at once, without a retry or
// the retry budget, even for a call that is not idempotent. Seen before:
// while a restarted card-processing answered its probes, card-api's
// authorisations that were sent its way failed "too many requests", about
// a quarter of card-api's declines in a rolling restart.
func TestEndpointAnsweringItsProbesIsPassedOver(t *testing.T) {
	var mu sync.Mutex
	hang, hits := true, 0
	back := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hang
		hits++
		mu.Unlock()
		if h {
			<-r.Context().Done()
			return
		}
		time.Sleep(300 * time.Millisecond) // warming up: slow, but answers
		mesh.WriteJSON(w, 200, struct{}{})
	})
	good := endpoint(t, func(w http.ResponseWriter, r *http.Request) { mesh.WriteJSON(w, 200, struct{}{}) })
	c := mesh.NewClient("dep", mesh.StaticResolver{back, good}, mesh.NewMetrics("test"),
		mesh.WithCallTimeout(2*time.Second), mesh.WithEjection(100*time.Millisecond, 100*time.Millisecond),
		mesh.WithRetryBudget(mesh.NewRetryBudget(0, 0)))
	// Two unanswered tries eject it.
	for tries := 0; tries < 2; {
		_ = c.Do(context.Background(), mesh.Call{Method: http.MethodGet, Path: "/x", Timeout: 200 * time.Millisecond}, nil)
		mu.Lock()
		tries = hits
		mu.Unlock()
	}
	mu.Lock()
	hang, hits = false, 0
	mu.Unlock()
	time.Sleep(150 * time.Millisecond) // the ejection has run out: the next tries are probes

	var wg sync.WaitGroup
	errs := make([]error, 30)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Not idempotent, and no retry budget: one try each, unless
			// a breaker refused it before anything was sent.
			errs[i] = c.Do(context.Background(), mesh.Call{Method: http.MethodPost, Path: "/x"}, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "call %d", i)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Positive(t, hits, "the endpoint got its probes")
	assert.LessOrEqual(t, hits, 3, "only its probes reached the endpoint answering them")
}
