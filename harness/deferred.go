package harness

import (
	"context"
	"fmt"
	"time"
)

// The bank's deferred work (enrichment, the feeds, notifications, voids,
// the balance projection, payment settlement) is paced on purpose when it
// is behind (the catch-up pace), so a backlog takes a while to go. The
// runner waits for it at two places: after each cell of a sweep, and
// before a scenario's steady window, for what an earlier scenario left.

// deferredWork are the durable consumers of deferred work, by service:
// a sweep's cell is over, and a scenario begins, when every one has caught
// up (its backlog is zero), so that every ledger entry reached the feed,
// enrichment and notifications and every payment settled before the next
// fault.
var deferredWork = [][2]string{
	{"transaction-enrichment", "enrichment"}, {"feed-generator", "feed-generator"}, {"notifications", "notifications"},
	{"card-api", "card-voids"}, {"balance", "balance-projection"}, {"payments", "payments-settler"},
}

// caughtUpAll waits until every consumer of deferred work has nothing
// left to handle: for at most limit, and past it for as long as what is
// left keeps going down, up to extra more. Deferred work is paced on
// purpose (the catch-up pace), so a backlog a fault left can take a while;
// one that stops going down is stuck. It returns a nil error once caught
// up; otherwise what was left, and whether it was still going down when
// the wait ended.
func (s *suite) caughtUpAll(ctx context.Context, in *Inspect, limit, extra time.Duration) (catchingUp bool, err error) {
	start := time.Now()
	least, moved := -1.0, start
	for {
		total, err := s.deferredLeft(ctx, in)
		now := time.Now()
		if err == nil && total == 0 {
			return false, nil
		}
		if total >= 0 && (least < 0 || total < least) {
			least, moved = total, now
		}
		waited := now.Sub(start)
		goingDown := now.Sub(moved) < catchUpStall
		if ctx.Err() != nil || waited >= limit && (!goingDown || waited >= limit+extra) {
			return goingDown && least >= 0, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// catchUpStall is how long deferred work may go without its backlog
// going down before caughtUpAll calls it stuck.
const catchUpStall = 5 * time.Second

// deferredLeft returns how many messages the consumers of deferred work
// have left in all (-1 when one could not be read), and an error naming
// the first consumer with any left, or the read that failed.
func (s *suite) deferredLeft(ctx context.Context, in *Inspect) (float64, error) {
	var total float64
	var first error
	for _, sc := range deferredWork {
		n, err := in.Backlog(ctx, sc[0], sc[1])
		if err != nil {
			return -1, err
		}
		if n > 0 && first == nil {
			first = fmt.Errorf("consumer %s of %s has %.0f messages left", sc[1], sc[0], n)
		}
		total += n
	}
	return total, first
}

// Waiting for deferred work an earlier scenario left: up to
// inheritedLimit, and past it as long as the backlog keeps going down, up
// to inheritedExtra more.
const (
	inheritedLimit = 20 * time.Second
	inheritedExtra = 60 * time.Second
)

// inheritedWork waits, before a scenario's steady window, for the deferred
// work an earlier scenario left (a sweep that ended behind, a consumer
// still catching up), and marks in with what was still left when the wait
// ended: the scenario's checks of deferred work cannot tell its backlog
// from its own (Inspect.unlessInherited). It returns that, or "".
func (s *suite) inheritedWork(ctx context.Context, in *Inspect) string {
	switch left, err := s.deferredLeft(ctx, in); {
	case left < 0:
		// Not a backlog: the checks that read it will say they cannot.
		progress("%s: cannot read deferred work's backlog (%v); not waiting for it", in.scenario, err)
		return ""
	case left == 0:
		return "" // nothing left: the usual case, one read
	}
	t0 := time.Now()
	_, err := s.caughtUpAll(ctx, in, inheritedLimit, inheritedExtra)
	waited := time.Since(t0).Round(100 * time.Millisecond)
	if err == nil {
		if waited >= 2*time.Second {
			progress("%s: deferred work left from before caught up in %v", in.scenario, waited)
		}
		return ""
	}
	in.inherited = fmt.Sprintf("after waiting %v for deferred work left from before: %v", waited, err)
	progress("%s: %s; its checks of deferred work cannot fail on it", in.scenario, in.inherited)
	return in.inherited
}
