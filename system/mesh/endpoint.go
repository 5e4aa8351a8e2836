package mesh

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// Ejection defaults: when an endpoint is taken out of a client's rotation,
// and for how long.
const (
	DefaultBreakerFails  = 5                      // failed tries in a row that eject an endpoint
	DefaultSilentFails   = 2                      // tries in a row with no answer at all that eject an endpoint
	probes               = 3                      // tries let through to an endpoint whose ejection ran out (half-open), before it is trusted again
	DefaultBreakerPeriod = 2 * time.Second        // the first ejection; each one after a failed probe lasts twice as long
	DefaultMaxEjection   = 10 * time.Second       // the longest ejection
	minSilentBudget      = 100 * time.Millisecond // a try given less time says little when it goes unanswered
)

// endpoint is one address of a dependency and what the client knows of its
// health: its circuit breaker (sony/gobreaker) and how long it stays ejected.
//
// The breaker opens, ejecting the endpoint, after DefaultBreakerFails failed
// tries in a row (5xx answers, refusals, no answer), or sooner, after
// DefaultSilentFails tries in a row that got no answer at all: a timeout or a
// broken connection, what a paused process, a lost machine or an address no
// longer there look like, and what costs each caller most of its budget. The
// first ejection lasts the base period; each one that follows a failed probe
// lasts twice as long as the one before, up to the most; once probes are
// answered (the breaker closes) the next ejection starts again from the base.
// At a low request rate a dead endpoint is therefore probed ever less often
// instead of costing every other call a timeout. An ejected endpoint gets no
// tries unless every endpoint is ejected (panic mode).
type endpoint struct {
	addr    string
	breaker *gobreaker.CircuitBreaker[*http.Response]
	silent  atomic.Int32 // tries in a row that got no answer
	streak  atomic.Int32 // ejections since the breaker last closed
	until   atomic.Int64 // ejected until, Unix nanoseconds
}

// newEndpoint returns addr's health for dependency dep, its ejections
// lasting from base up to most.
func newEndpoint(dep, addr string, m *Metrics, fails, silentFails int, base, most time.Duration) *endpoint {
	e := &endpoint{addr: addr}
	g := m.breakerState.WithLabelValues(dep, addr)
	changes := map[gobreaker.State]prometheus.Counter{
		gobreaker.StateOpen:     m.breakerChanges.WithLabelValues(dep, addr, BreakerOpen),
		gobreaker.StateHalfOpen: m.breakerChanges.WithLabelValues(dep, addr, BreakerHalfOpen),
		gobreaker.StateClosed:   m.breakerChanges.WithLabelValues(dep, addr, BreakerClosed),
	}
	e.breaker = gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:        dep + "@" + addr,
		MaxRequests: probes,
		Timeout:     base,
		ReadyToTrip: func(cn gobreaker.Counts) bool {
			return cn.ConsecutiveFailures >= uint32(fails) || e.silent.Load() >= int32(silentFails)
		},
		// Called with the breaker's lock held: only atomics here.
		OnStateChange: func(_ string, _, to gobreaker.State) {
			changes[to].Inc()
			switch to {
			case gobreaker.StateOpen:
				n := e.streak.Add(1)
				e.until.Store(time.Now().Add(ejection(base, most, n)).UnixNano())
				g.Set(1)
			case gobreaker.StateClosed:
				e.streak.Store(0)
				g.Set(0)
			default:
				g.Set(0)
			}
		},
		// A caller's own cancellation says nothing about the endpoint.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
	})
	return e
}

// ejection is how long the nth ejection in a row lasts: base, doubled for
// each one before it, at most most.
func ejection(base, most time.Duration, n int32) time.Duration {
	d := base
	for i := int32(1); i < n && d < most; i++ {
		d *= 2
	}
	return min(d, most)
}

// ejected reports whether the endpoint is out of rotation at now. The
// breaker is asked only once the ejection has run out, so that it turns
// half-open (and lets probes through) no sooner.
func (e *endpoint) ejected(now time.Time) bool {
	return now.UnixNano() < e.until.Load() || e.breaker.State() == gobreaker.StateOpen
}

// probing reports whether the endpoint is half-open with every one of its
// probes already sent: until they are answered, its breaker refuses any
// other try at once (gobreaker.ErrTooManyRequests), so a caller that has
// other endpoints should not pick it.
func (e *endpoint) probing() bool {
	if e.breaker.State() != gobreaker.StateHalfOpen {
		return false
	}
	c := e.breaker.Counts()
	return c.Requests-min(c.Requests, c.TotalExclusions) >= probes
}

// refused reports whether err is a try the endpoint's own breaker refused
// before anything was sent.
func refused(err error) bool {
	return errors.Is(err, gobreaker.ErrTooManyRequests) || errors.Is(err, gobreaker.ErrOpenState)
}

// tried records how a try that was sent ended: answered (any status), or not
// answered with err after being given budget. A try cut by the caller's
// cancellation, or given too little time to say anything, is not counted.
func (e *endpoint) tried(answered bool, err error, budget time.Duration) {
	switch {
	case answered:
		e.silent.Store(0)
	case errors.Is(err, context.Canceled), budget < minSilentBudget:
	default:
		e.silent.Add(1)
	}
}
