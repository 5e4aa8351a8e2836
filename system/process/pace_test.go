package process

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// stream simulates a durable consumer whose handler takes no time. Messages
// are published at a steady rate from t0, after an optional backlog
// published earlier; the worker may be frozen; each message is handled after
// the wait the pacer asks for.
type stream struct {
	t0, now time.Time
	rate    float64         // messages published a second from t0
	old     []time.Time     // publish times of a backlog older than t0
	handled int             // messages handled so far
	pc      *pacer          //
	perSec  map[int]int     // messages handled in each second since t0
	behind  map[int]bool    // seconds in which the pacer said behind
	waits   []time.Duration // every wait asked for
}

func newStream(rate float64, old []time.Time) *stream {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	return &stream{t0: t0, now: t0, rate: rate, old: old, pc: newPacer(catchUpFactor, catchUpFloor),
		perSec: map[int]int{}, behind: map[int]bool{}}
}

// published is when message i was published.
func (s *stream) published(i int) time.Time {
	if i < len(s.old) {
		return s.old[i]
	}
	if s.rate == 0 {
		return s.t0.Add(1000 * time.Hour) // never
	}
	return s.t0.Add(time.Duration(float64(i-len(s.old)) / s.rate * float64(time.Second)))
}

// run handles messages for d: each one as soon as it is published and the
// pacer lets it go.
func (s *stream) run(d time.Duration) {
	end := s.now.Add(d)
	for s.now.Before(end) {
		pub := s.published(s.handled)
		if pub.After(s.now) {
			s.now = minTime(pub, end)
			continue
		}
		wait, behind := s.pc.next(pub, s.now)
		s.waits = append(s.waits, wait)
		s.now = s.now.Add(wait)
		s.handled++
		sec := int(s.now.Sub(s.t0) / time.Second)
		s.perSec[sec]++
		s.behind[sec] = s.behind[sec] || behind
	}
}

// freeze stops the worker for d: messages go on being published.
func (s *stream) freeze(d time.Duration) { s.now = s.now.Add(d) }

// lag is how old the next message to handle is.
func (s *stream) lag() time.Duration { return max(s.now.Sub(s.published(s.handled)), 0) }

func TestLiveWorkerIsNotPaced(t *testing.T) {
	s := newStream(200, nil)
	s.run(5 * time.Second)
	for sec := 0; sec < 5; sec++ {
		assert.False(t, s.behind[sec], "second %d", sec)
		assert.InDelta(t, 200, s.perSec[sec], 2, "second %d: handled as they arrive", sec)
	}
}

func TestBacklogAfterFreezeReplaysAtPace(t *testing.T) {
	const rate = 50.0
	s := newStream(rate, nil)
	s.run(10 * time.Second)
	s.freeze(4 * time.Second) // 200 messages pile up
	start := int(s.now.Sub(s.t0) / time.Second)
	s.run(15 * time.Second)

	drained := -1
	for sec := start; sec < start+15; sec++ {
		if s.behind[sec] {
			assert.LessOrEqual(t, s.perSec[sec], int(catchUpFactor*rate)+2,
				"second %d: the catch-up may not go faster than %v times the rate the work was made", sec, catchUpFactor)
			assert.GreaterOrEqual(t, s.perSec[sec], int(rate)+10, "second %d: the catch-up must gain on the arrivals", sec)
		} else if drained < 0 {
			drained = sec - start
		}
	}
	// P/(factor-1): 4 s of backlog at 1.5 times drains in about 8 s.
	assert.InDelta(t, 8, drained, 1, "seconds to drain a 4 s backlog")
	assert.Less(t, s.lag(), liveLag, "caught up")
}

func TestSecondFreezeDuringCatchUpIsPacedToo(t *testing.T) {
	// A worker frozen again while catching up must not make up for the
	// lost time in a burst: the schedule does not bank time.
	const rate = 50.0
	s := newStream(rate, nil)
	s.run(5 * time.Second)
	s.freeze(4 * time.Second)
	s.run(2 * time.Second)
	s.freeze(3 * time.Second)
	start := int(s.now.Sub(s.t0) / time.Second)
	s.run(15 * time.Second)
	for sec := start; sec < start+15; sec++ {
		if s.behind[sec] {
			assert.LessOrEqual(t, s.perSec[sec], int(catchUpFactor*rate)+2, "second %d", sec)
		}
	}
	assert.Less(t, s.lag(), liveLag, "caught up")
}

func TestSparseBacklogGoesAtTheFloor(t *testing.T) {
	// A worker restarted with 100 messages written 30 s apart does not
	// replay their 50 minutes: it goes at the floor.
	s := newStream(0, written(100, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), 30*time.Second))
	s.run(10 * time.Second)
	assert.Equal(t, 100, s.handled)
	for sec := 0; sec < 4; sec++ {
		assert.InDelta(t, catchUpFloor, s.perSec[sec], 2, "second %d", sec)
		assert.True(t, s.behind[sec])
	}
	for _, w := range s.waits {
		assert.LessOrEqual(t, w, time.Second/catchUpFloor, "no wait is longer than the floor's gap")
	}
}

func TestDenseOldBacklogReplaysAtItsOwnRate(t *testing.T) {
	// 600 messages written in 2 s (300 a second) an hour ago: replayed at
	// 450 a second, not all at once and not at the floor.
	s := newStream(0, written(600, time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC), time.Second/300))
	s.run(3 * time.Second)
	assert.Equal(t, 600, s.handled)
	assert.InDelta(t, 450, s.perSec[0], 3)
}

// written is the publish times of n messages written every interval from
// from.
func written(n int, from time.Time, every time.Duration) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = from.Add(time.Duration(i) * every)
	}
	return out
}
