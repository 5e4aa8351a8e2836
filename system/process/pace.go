package process

import "time"

// Deferred work catches up at a pace. When a deferred worker comes back
// from an outage, its backlog is store writes the critical path did not
// make: handled as fast as the worker can go, they reach the stores all at
// once, beside the card payments that share them. On the bank's two-core
// test machine, freezing the tier 3 services for 4 s and letting them go
// took the stores from 60% to 100% of a core for 2-3 s and tripled card
// authorisations' median latency; on a busier host the same burst turned
// every card answer into a "91" for 3 s.
//
// So a deferred worker that is behind replays its backlog at most
// catchUpFactor times as fast as it was written: the messages it handles in
// one second were published in at most catchUpFactor seconds. The stores
// then see at most catchUpFactor times the load they saw when the work was
// made, whatever that load was, and a backlog of P seconds drains in about
// P/(catchUpFactor-1) seconds. A sparse backlog still goes at catchUpFloor
// messages a second or faster. A worker falls behind when a message it is
// given is catchUpLag old, and is live again, not slowed, once its
// messages are younger than liveLag: the last of the backlog is replayed
// at the pace too, not in a burst.
const (
	catchUpFactor = 1.5
	catchUpFloor  = 20 // messages a second
	catchUpLag    = time.Second
	liveLag       = 100 * time.Millisecond
)

// pacer decides when a deferred worker handles its next message. While the
// worker is behind, it follows a schedule anchored at one message: a
// message published d after the anchor's is let go d/factor after the
// anchor was. The schedule never banks time: a worker slower than its
// schedule (a slow handler, the process frozen) is anchored afresh at the
// next message, so it cannot later make up the difference in a burst.
// Not safe for concurrent use: one consumer's handler calls it in turn.
type pacer struct {
	factor float64
	gap    time.Duration // most time between two messages while behind (the floor)

	behind            bool
	anchored          bool
	anchorAt, anchorP time.Time // when the anchor was let go, and when it was published
	last              time.Time // when the previous message was let go
}

func newPacer(factor float64, floor int) *pacer {
	return &pacer{factor: factor, gap: time.Second / time.Duration(floor)}
}

// next returns how long to wait, at now, before handling a message
// published at published, and whether the worker is behind.
func (pc *pacer) next(published, now time.Time) (wait time.Duration, behind bool) {
	lag := now.Sub(published)
	pc.behind = lag >= catchUpLag || pc.behind && lag >= liveLag
	if !pc.behind {
		pc.anchored, pc.last = false, now
		return 0, false
	}
	at := now
	if pc.anchored {
		at = pc.anchorAt.Add(time.Duration(float64(published.Sub(pc.anchorP)) / pc.factor))
		at = minTime(at, pc.last.Add(pc.gap)) // the floor
	}
	if !at.After(now) {
		at = now
		pc.anchored, pc.anchorAt, pc.anchorP = true, now, published
	}
	pc.last = at
	return at.Sub(now), true
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
