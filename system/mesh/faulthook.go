package mesh

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault is one L7 fault applied by the admin hook to requests whose path
// starts with Route: a fraction ErrorRate of them get Status, and a fraction
// DelayRate of them are held for DelayMs first. A RateLimit lowers the
// process-wide rate limit to that many requests per second while the fault
// is active (whatever its Route), as a mesh's local rate-limit policy
// would: the process's own limiter then answers 429 to the excess.
type Fault struct {
	ID        string  `json:"id"`
	Route     string  `json:"route"` // path prefix; "/" for every route
	ErrorRate float64 `json:"error_rate"`
	Status    int     `json:"status"`
	DelayRate float64 `json:"delay_rate"`
	DelayMs   int     `json:"delay_ms"`
	RateLimit int     `json:"rate_limit,omitempty"`
}

// FaultHook is the admin endpoint for L7 faults, as a mesh sidecar would give:
//
//	POST   /admin/faults       add or replace a Fault (by ID)
//	GET    /admin/faults       list the active faults
//	DELETE /admin/faults/{id}  remove one
//	DELETE /admin/faults       remove all
//
// It exists only when the process runs with --admin. Safe for concurrent use.
type FaultHook struct {
	mu      sync.RWMutex
	faults  map[string]Fault
	metrics *Metrics
	limit   func(rps int) // sets the rate limit faults ask for (0: none)
}

func newFaultHook(m *Metrics, limit func(rps int)) *FaultHook {
	return &FaultHook{faults: map[string]Fault{}, metrics: m, limit: limit}
}

// changed applies the lowest rate limit the active faults ask for. h.mu
// must be held.
func (h *FaultHook) changed() {
	rps := 0
	for _, f := range h.faults {
		if f.RateLimit > 0 && (rps == 0 || f.RateLimit < rps) {
			rps = f.RateLimit
		}
	}
	h.limit(rps)
}

func isAdmin(path string) bool { return strings.HasPrefix(path, "/admin/") }

func (h *FaultHook) register(mux *http.ServeMux) {
	mux.Handle("POST /admin/faults", Handler(func(w http.ResponseWriter, r *http.Request) error {
		var f Fault
		if err := Decode(r, &f); err != nil {
			return err
		}
		if f.ID == "" || f.Route == "" || !strings.HasPrefix(f.Route, "/") {
			return Errorf(400, "bad_fault", "id and a route starting with / are required")
		}
		if f.ErrorRate < 0 || f.ErrorRate > 1 || f.DelayRate < 0 || f.DelayRate > 1 || f.DelayMs < 0 || f.DelayMs > 600_000 {
			return Errorf(400, "bad_fault", "rates must be in [0,1] and delay_ms in [0,600000]")
		}
		if f.ErrorRate > 0 && (f.Status < 400 || f.Status > 599) {
			return Errorf(400, "bad_fault", "status must be a 4xx or 5xx code")
		}
		if f.RateLimit < 0 {
			return Errorf(400, "bad_fault", "rate_limit must not be negative")
		}
		h.mu.Lock()
		h.faults[f.ID] = f
		h.changed()
		h.mu.Unlock()
		WriteJSON(w, http.StatusOK, f)
		return nil
	}))
	mux.HandleFunc("GET /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		h.mu.RLock()
		out := make([]Fault, 0, len(h.faults))
		for _, f := range h.faults {
			out = append(out, f)
		}
		h.mu.RUnlock()
		WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("DELETE /admin/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		delete(h.faults, r.PathValue("id"))
		h.changed()
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		clear(h.faults)
		h.changed()
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
}

// apply applies the matching faults to r and reports whether it answered.
func (h *FaultHook) apply(w http.ResponseWriter, r *http.Request) bool {
	h.mu.RLock()
	var match []Fault
	for _, f := range h.faults {
		if strings.HasPrefix(r.URL.Path, f.Route) {
			match = append(match, f)
		}
	}
	h.mu.RUnlock()
	for _, f := range match {
		if f.DelayMs > 0 && rand.Float64() < f.DelayRate {
			h.metrics.faultsInjected.WithLabelValues("delay").Inc()
			t := time.NewTimer(time.Duration(f.DelayMs) * time.Millisecond)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		if f.ErrorRate > 0 && rand.Float64() < f.ErrorRate {
			h.metrics.faultsInjected.WithLabelValues("error").Inc()
			WriteJSON(w, f.Status, &Error{Code: "injected_fault", Detail: "admin fault " + f.ID})
			return true
		}
	}
	return false
}
