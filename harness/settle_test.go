package harness

import (
	"testing"
	"time"

	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/load"
)

// paced returns journey's requests at rate a second over [from, to), each
// taking lat and ending in outcome.
func paced(journey string, rate float64, from, to, lat time.Duration, outcome history.Outcome) []history.Op {
	var ops []history.Op
	step := time.Duration(float64(time.Second) / rate)
	for t := from; t < to; t += step {
		ops = append(ops, history.Op{Journey: journey, Start: t, Latency: lat, Outcome: outcome})
	}
	return ops
}

func TestSteadyNow(t *testing.T) {
	const s = time.Second
	plans := []load.Plan{{Journey: "card-auth", Rate: 50}, {Journey: "emoji", Rate: 1}}
	healthy := paced("card-auth", 50, 0, 10*s, 40*time.Millisecond, history.OK)
	// A light journey failing says nothing: it is not looked at.
	healthy = append(healthy, paced("emoji", 1, 0, 10*s, 40*time.Millisecond, history.Fail)...)
	if !steadyNow(healthy, plans, 0, 9*s) {
		t.Error("a healthy card path at 50/s is not steady")
	}
	if steadyNow(healthy, plans, 8*s, 9*s) {
		t.Error("steady before a whole span of windows was seen")
	}

	// The last scenario's tail: the card path slow, then back.
	tail := append(paced("card-auth", 50, 0, 4*s, 600*time.Millisecond, history.OK),
		paced("card-auth", 50, 4*s, 10*s, 40*time.Millisecond, history.OK)...)
	if steadyNow(tail, plans, 0, 4500*time.Millisecond) {
		t.Error("steady while the card path answered in 600 ms")
	}
	if !steadyNow(tail, plans, 0, 9*s) {
		t.Error("not steady long after the card path came back")
	}

	// Declines in the last window, or a window short of requests (the rest
	// still in flight), are not steady.
	declined := append(paced("card-auth", 50, 0, 8*s, 40*time.Millisecond, history.OK),
		paced("card-auth", 10, 8*s, 9*s, 40*time.Millisecond, history.Fail)...)
	if steadyNow(declined, plans, 0, 9*s) {
		t.Error("steady with declines in the last second")
	}
	short := paced("card-auth", 20, 0, 10*s, 40*time.Millisecond, history.OK)
	if steadyNow(short, plans, 0, 9*s) {
		t.Error("steady with 20 of 50 requests a second answered")
	}
}
