package mesh

import (
	"context"
	"sync"
	"time"
)

// Admission is load shedding in front of a call path: it admits at most
// Limit calls at once and refuses the rest at once, so that a dependency
// that has stopped answering in time is given less work rather than a
// queue. The limit adapts, additive increase and multiplicative decrease
// (as TCP's window does): a call answered in time raises it by about one
// per limit's worth of calls; a call that timed out lowers it to four
// fifths of what was in flight (or of the limit, if less), at most once per
// cooldown so that one burst of timeouts counts once. Slow answers that
// still come in time lower nothing: refusing them would turn answers into
// declines without saving any work.
//
// A refused call is the point: it costs its caller nothing downstream,
// where an admitted call that times out has held every hop of the path for
// its whole budget. Safe for concurrent use.
type Admission struct {
	cooldown time.Duration
	min, max float64

	mu       sync.Mutex
	limit    float64
	inFlight int
	lowered  time.Time // when the limit was last lowered
}

// NewAdmission returns an Admission admitting up to most calls at once,
// lowered towards least, at most once per cooldown, while calls time out.
func NewAdmission(cooldown time.Duration, least, most int) *Admission {
	least = max(1, least)
	most = max(least, most)
	return &Admission{cooldown: cooldown, min: float64(least), max: float64(most), limit: float64(most)}
}

// Ticket is one admitted call. Done must be called once the call ends.
type Ticket struct {
	a *Admission
}

// Admit admits a call unless Limit calls are already in flight.
func (a *Admission) Admit() (Ticket, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if float64(a.inFlight) >= a.limit {
		return Ticket{}, false
	}
	a.inFlight++
	return Ticket{a: a}, true
}

// Done ends an admitted call; timedOut says it failed for lack of time.
func (t Ticket) Done(timedOut bool) {
	if t.a == nil {
		return
	}
	t.a.done(timedOut)
}

func (a *Admission) done(timedOut bool) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inFlight--
	switch {
	case timedOut:
		if now.Sub(a.lowered) >= a.cooldown {
			a.limit = max(a.min, min(a.limit, float64(a.inFlight+1))*0.8)
			a.lowered = now
		}
	default:
		a.limit = min(a.max, a.limit+1/a.limit)
	}
}

// Busy reports whether at least half of the limit is in flight: background
// work (voids, catch-up) should wait for the live calls then.
func (a *Admission) Busy() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return float64(a.inFlight) >= a.limit/2
}

// WaitQuiet waits until the path is not Busy, ctx ends or at most patience
// has passed, so that background work gives way to live calls without
// being starved by them.
func (a *Admission) WaitQuiet(ctx context.Context, patience time.Duration) {
	end := time.Now().Add(patience)
	for a.Busy() && time.Now().Before(end) {
		if !sleep(ctx, 20*time.Millisecond) {
			return
		}
	}
}

// Limit is how many calls are admitted at once now.
func (a *Admission) Limit() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int(a.limit)
}
