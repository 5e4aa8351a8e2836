package check_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
)

func TestMissPValueIsTheBinomialTail(t *testing.T) {
	// P(X >= 1 | n=5, p=0.01) = 1 - 0.99^5
	assert.InDelta(t, 1-math.Pow(0.99, 5), check.Miss{Bad: 1, N: 5, Allowed: 0.01}.PValue(), 1e-12)
	// P(X >= 2 | n=48, p=0.02) = 1 - 0.98^48 - 48*0.02*0.98^47
	want := 1 - math.Pow(0.98, 48) - 48*0.02*math.Pow(0.98, 47)
	assert.InDelta(t, want, check.Miss{Bad: 2, N: 48, Allowed: 0.02}.PValue(), 1e-12)
	assert.Equal(t, 1.0, check.Miss{Bad: 0, N: 10, Allowed: 0.01}.PValue())
	assert.Equal(t, 0.0, check.Miss{Bad: 1, N: 10, Allowed: 0}.PValue(), "an objective of 100% allows nothing")
	assert.InDelta(t, 0.5, check.Miss{Bad: 5001, N: 10000, Allowed: 0.5}.PValue(), 0.01, "large n stays accurate")
}

// window makes a journey's history: n requests over 10 s, bad of them
// failed (spread evenly), slow of them taking 2 s.
func window(n, bad, slow int) []history.Op {
	var out []history.Op
	for i := range n {
		o := history.Op{Journey: "j", Start: time.Duration(i) * 10 * time.Second / time.Duration(n), Latency: 5 * ms, Outcome: history.OK}
		if bad > 0 && i%(n/bad) == 0 && i/(n/bad) < bad {
			o.Outcome = history.Unknown
		}
		if slow > 0 && i%(n/slow) == 1 && i/(n/slow) < slow {
			o.Latency = 2 * time.Second
		}
		out = append(out, o)
	}
	return out
}

// TestSLOJudgementFromBothSides feeds the rule windows from a healthy
// journey with a few stray resets, which must pass, and from journeys really
// below their objective, which must fail.
func TestSLOJudgementFromBothSides(t *testing.T) {
	steady := check.SLO{MinSuccess: 0.99, P99: 300 * ms, MinOps: 5}
	hold := check.SLO{MinSuccess: 0.98, P99: time.Second, MinOps: 5}
	w := check.Window{Name: "during", From: 0, To: time.Minute}
	for name, c := range map[string]struct {
		ops  []history.Op
		slo  check.SLO
		want check.Verdict
	}{
		// The windows of the runs that cried wolf: one or two resets of ~50.
		"1 reset of 48 payments":  {window(48, 1, 0), hold, check.Valid},
		"2 resets of 48 payments": {window(48, 2, 0), hold, check.Valid},
		"2 resets of 64 balances": {window(64, 2, 0), hold, check.Valid},
		"3 resets of 99 steady":   {window(99, 3, 0), steady, check.Valid},
		"1 reset of 5":            {window(5, 1, 0), steady, check.Valid},
		"2 slow of 100":           {window(100, 0, 2), steady, check.Valid},
		"3 slow of 150":           {window(150, 0, 3), steady, check.Valid},
		// Journeys really below their objective.
		"90% of 48 payments":    {window(48, 5, 0), hold, check.Invalid},
		"80% of 20":             {window(20, 4, 0), hold, check.Invalid},
		"half of 10":            {window(10, 5, 0), steady, check.Invalid},
		"95% of 1000":           {window(1000, 50, 0), steady, check.Invalid},
		"96% of 1000":           {window(1000, 40, 0), hold, check.Invalid},
		"5% slow of 200":        {window(200, 0, 10), steady, check.Invalid},
		"every request refused": {window(6, 6, 0), hold, check.Invalid},
	} {
		t.Run(name, func(t *testing.T) {
			r, s := check.CheckSLO(c.ops, "j", w, c.slo)
			assert.Equal(t, c.want, r.Verdict, r.Summary)
			switch {
			case c.want == check.Invalid:
				assert.NotEmpty(t, r.Examples, "a failed window names its first bad requests")
			case s.Success < c.slo.MinSuccess || s.P99 > c.slo.P99:
				assert.Contains(t, r.Summary, "by no more than chance allows", "a miss within chance is said as such")
			}
		})
	}
}

// stalled makes a journey's history of n requests over 2 s (a -short
// steady window) taking 20 ms, and stalls: at each stall's start, the next
// k requests take 350 ms (as one pause of the machine does to everything
// in flight).
func stalled(n, k int, stalls ...time.Duration) []history.Op {
	var out []history.Op
	for i := range n {
		out = append(out, history.Op{Journey: "j", Start: time.Duration(i) * 2 * time.Second / time.Duration(n), Latency: 20 * ms, Outcome: history.OK})
	}
	for _, at := range stalls {
		hit := 0
		for i := range out {
			if out[i].Start >= at && hit < k {
				out[i].Latency = 350 * ms
				hit++
			}
		}
	}
	return out
}

// TestSLOJudgesLatencyInStalls: slow requests in flight together are one
// event. The windows of the false alarms (3 of 30 payments slowed by one
// 400 ms stall; card authorisations slowed by two) pass; a journey slow in
// several separate moments, or all the time, still fails.
func TestSLOJudgesLatencyInStalls(t *testing.T) {
	steady := check.SLO{MinSuccess: 0.99, P99: 300 * ms, MinOps: 5}
	w := check.Window{Name: "steady", From: 0, To: time.Minute}
	for name, c := range map[string]struct {
		ops  []history.Op
		want check.Verdict
	}{
		"one stall, 3 of 30":              {stalled(30, 3, 500*ms), check.Valid},
		"one stall, 9 of 200":             {stalled(200, 9, 500*ms), check.Valid},
		"two stalls, 4 each of 200":       {stalled(200, 4, 300*ms, 1200*ms), check.Valid},
		"five stalls, 3 each of 30":       {stalled(30, 3, 0, 400*ms, 800*ms, 1200*ms, 1600*ms), check.Invalid},
		"slow all the time, 30 of 30":     {stalled(30, 30, 0), check.Invalid},
		"three stalls, 10 each of 200":    {stalled(200, 10, 0, 700*ms, 1400*ms), check.Invalid},
		"every other request slow, of 60": {window(60, 0, 30), check.Invalid},
	} {
		t.Run(name, func(t *testing.T) {
			r, _ := check.CheckSLO(c.ops, "j", w, steady)
			assert.Equal(t, c.want, r.Verdict, r.Summary)
		})
	}
	slow, stalls := check.Compute(stalled(30, 30, 0), "j", w).Stalls(300 * ms)
	assert.Equal(t, 30, slow)
	assert.GreaterOrEqual(t, stalls, 5, "slow all the time is a stall every 300 ms, not one")
}

func TestSLOJudgementIsUnknownOnTooFewRequests(t *testing.T) {
	r, _ := check.CheckSLO(window(4, 4, 0), "j", check.Window{Name: "steady", From: 0, To: time.Minute},
		check.SLO{MinSuccess: 0.99, P99: time.Second, MinOps: 5})
	assert.Equal(t, check.Unknown, r.Verdict)
	assert.Contains(t, r.Summary, "fewer than the 5 needed")
}

// TestSLOJudgementFalseAlarmRate draws many windows from a journey exactly
// at its objective and from one clearly below it: the first must almost
// never fail (at most the rule's significance), the second almost always.
func TestSLOJudgementFalseAlarmRate(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	slo := check.SLO{MinSuccess: 0.98, P99: time.Second, MinOps: 5}
	w := check.Window{Name: "during", From: 0, To: time.Minute}
	draw := func(n int, pBad float64) []history.Op {
		var out []history.Op
		for i := range n {
			o := history.Op{Journey: "j", Start: time.Duration(i) * time.Millisecond, Latency: ms, Outcome: history.OK}
			if rnd.Float64() < pBad {
				o.Outcome = history.Unknown
			}
			out = append(out, o)
		}
		return out
	}
	const trials = 2000
	atObjective, below := 0, 0
	for range trials {
		if r, _ := check.CheckSLO(draw(200, 0.02), "j", w, slo); r.Verdict == check.Invalid {
			atObjective++
		}
		if r, _ := check.CheckSLO(draw(200, 0.10), "j", w, slo); r.Verdict == check.Invalid {
			below++
		}
	}
	require.LessOrEqual(t, float64(atObjective)/trials, check.Significance*1.5, "false alarms at the objective")
	require.GreaterOrEqual(t, float64(below)/trials, 0.99, "a journey at 90%% against 98%% fails")
}

func TestWindowsAttributeInFlightRequestsToTheFault(t *testing.T) {
	faults := check.Span{From: 10 * time.Second, To: 20 * time.Second}
	ws := check.Cut(0, faults.From, 40*time.Second, &faults, 12*time.Second)
	op := func(start, lat time.Duration) history.Op {
		return history.Op{Journey: "j", Start: start, Latency: lat, Outcome: history.Unknown}
	}
	for name, c := range map[string]struct {
		o    history.Op
		want string
	}{
		"steady, done before the fault":    {op(9*time.Second, 500*ms), check.Steady},
		"in flight at the injection":       {op(9900*ms, 200*ms), check.During},
		"started during":                   {op(15*time.Second, ms), check.During},
		"in flight at the recovery":        {op(19900*ms, 300*ms), check.During},
		"started after the recovery":       {op(20100*ms, ms), ""}, // between during and the after window
		"in the after window":              {op(35*time.Second, ms), check.After},
		"superseded attempt in the during": {history.Op{Journey: "j", Start: 15 * time.Second, Latency: ms, Superseded: true}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			got := ""
			for _, w := range ws.All() {
				if w.Contains(c.o) {
					assert.Empty(t, got, "a request belongs to one window at most")
					got = w.Name
				}
			}
			assert.Equal(t, c.want, got)
		})
	}
}

func TestMergeAndSafely(t *testing.T) {
	assert.Equal(t, check.Valid, check.Merge([]check.Result{{Verdict: check.Valid}, {Verdict: check.Unknown, Informational: true}}))
	assert.Equal(t, check.Unknown, check.Merge([]check.Result{{Verdict: check.Valid}, {Verdict: check.Unknown}}))
	assert.Equal(t, check.Invalid, check.Merge([]check.Result{{Verdict: check.Unknown}, {Verdict: check.Invalid}}))
	r := check.Safely("boom", func() check.Result { panic("nil map") })
	assert.Equal(t, check.Unknown, r.Verdict)
	assert.Equal(t, "boom", r.Check)
	assert.Contains(t, r.Summary, "nil map")
}
