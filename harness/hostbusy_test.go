package harness_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/host"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/system/transactions"
)

// slowDuring is a scenario whose card authorisations were all approved but
// took 900 ms while the faults were on (10-18 s), against a 300 ms p99.
func slowDuring(samples []host.Sample) (result.Scenario, []history.Op) {
	var ops []history.Op
	for i := range 300 {
		start := time.Duration(i) * 100 * time.Millisecond
		lat := 5 * time.Millisecond
		if start >= 10*time.Second && start < 18*time.Second {
			lat = 900 * time.Millisecond
		}
		ops = append(ops, history.Op{Scenario: "S", Journey: "card-auth", Start: start, Latency: lat,
			Outcome: history.OK, Result: "00", Amount: 100, Attempts: 1})
	}
	slo := check.SLO{MinSuccess: 0.99, P99: 300 * time.Millisecond, MinOps: 5}
	sc := result.Scenario{Name: "S", Start: 0, End: 30 * time.Second, Windows: map[string][2]time.Duration{},
		Load: []load.Stats{{Journey: "card-auth", Asked: 300, Sent: 300, SentRatio: 1}}, Host: samples,
		Plan: &result.Plan{Faults: check.Span{From: 10 * time.Second, To: 18 * time.Second}, AfterLen: 12 * time.Second,
			RecoveryFrom: 18 * time.Second, MaxRecovery: 10 * time.Second, Objectives: []result.Objective{
				{Journey: "card-auth", Window: check.Steady, Check: "slo", SLO: slo},
				{Journey: "card-auth", Window: check.During, Check: "slo", SLO: slo},
				{Journey: "card-auth", Window: check.After, Check: "slo", SLO: slo}}}}
	return sc, ops
}

// busyFrom samples the CPU every second of 30: others used share of it
// from from to to, and 2% elsewhere.
func busyFrom(from, to time.Duration, share float64) []host.Sample {
	var s []host.Sample
	for at := time.Second; at <= 30*time.Second; at += time.Second {
		others := uint64(4)
		var top []host.Use
		if at > from && at <= to {
			others = uint64(share * 200)
			top = []host.Use{{Name: "yes", Ticks: others - 4}}
		}
		s = append(s, host.Sample{At: at, Others: others, Total: 200, Top: top})
	}
	return s
}

func during(t *testing.T, res result.Scenario) check.Result {
	t.Helper()
	for _, c := range res.Checks {
		if c.Check == "slo" && c.Window == check.During {
			return c
		}
	}
	t.Fatal("no during slo check")
	return check.Result{}
}

func TestBusyHostMakesALatencyMissUnknown(t *testing.T) {
	ev := result.Evidence{Audit: transactions.Audit{OK: true}}

	// A quiet host: the slow window is the bank's doing.
	sc, ops := slowDuring(busyFrom(0, 0, 0))
	res := harness.Judge(sc, ops, ev)
	require.Equal(t, check.Invalid, during(t, res).Verdict, during(t, res).Summary)
	require.Equal(t, check.Invalid, res.Verdict)

	// Another process took half the machine while the faults were on.
	sc, ops = slowDuring(busyFrom(9*time.Second, 19*time.Second, 0.5))
	res = harness.Judge(sc, ops, ev)
	d := during(t, res)
	require.Equal(t, check.Unknown, d.Verdict, d.Summary)
	require.Contains(t, d.Summary, "the host was busy: work outside the run used 50% of the machine's CPU in this window (yes 48%)")
	require.NotEqual(t, check.Invalid, res.Verdict)
	var hc check.Result
	for _, c := range res.Checks {
		if c.Check == "host" {
			hc = c
		}
	}
	require.True(t, hc.Informational)
	require.True(t, strings.Contains(hc.Summary, "during 50%") && strings.Contains(hc.Summary, "1 missed objective(s) made unknown"), hc.Summary)

	// Busy only before the faults: the slow during window still fails.
	sc, ops = slowDuring(busyFrom(0, 9*time.Second, 0.5))
	res = harness.Judge(sc, ops, ev)
	require.Equal(t, check.Invalid, during(t, res).Verdict)

	// Not measured: nothing is excused, and the host check says why.
	sc, ops = slowDuring(nil)
	sc.HostError = "open /proc/stat: no such file"
	res = harness.Judge(sc, ops, ev)
	require.Equal(t, check.Invalid, during(t, res).Verdict)
	for _, c := range res.Checks {
		if c.Check == "host" {
			require.Equal(t, check.Unknown, c.Verdict)
			require.Contains(t, c.Summary, "no such file")
		}
	}
}

// TestBusyHostDoesNotExcuseALoneFailure: card authorisations all failing
// while payments held is not a starved host, busy or not.
func TestBusyHostDoesNotExcuseALoneFailure(t *testing.T) {
	ev := result.Evidence{Audit: transactions.Audit{OK: true}}
	sc, ops := slowDuring(busyFrom(9*time.Second, 19*time.Second, 0.5))
	for i := range ops {
		if ops[i].Start >= 10*time.Second && ops[i].Start < 18*time.Second {
			ops[i].Latency, ops[i].Outcome, ops[i].Result = 5*time.Millisecond, history.Fail, "91"
		}
	}
	res := harness.Judge(sc, ops, ev)
	d := during(t, res)
	require.Equal(t, check.Invalid, d.Verdict, d.Summary)
	require.Contains(t, d.Summary, "only this journey missed")

	// The same failures with payments failing too: the host may be why.
	for i := range 80 {
		ops = append(ops, history.Op{Scenario: "S", Journey: "payments", Start: 10*time.Second + time.Duration(i)*100*time.Millisecond,
			Latency: 5 * time.Millisecond, Outcome: history.Fail, Attempts: 1})
	}
	sc.Plan.Objectives = append(sc.Plan.Objectives, result.Objective{Journey: "payments", Window: check.During, Check: "slo",
		SLO: check.SLO{MinSuccess: 0.98, P99: time.Second, MinOps: 5}})
	res = harness.Judge(sc, ops, ev)
	d = during(t, res)
	require.Equal(t, check.Unknown, d.Verdict, d.Summary)
}

// TestBusyHostExcusesALoneFailureThatRanOutOfTime: card authorisations
// declined "91" after card-api's 800 ms deadline, alone, on a host whose
// CPU was half taken: the tightest deadline fails first when the host is
// starved, so the miss may be the host's (unknown). The same failures on
// a quiet host stay invalid.
func TestBusyHostExcusesALoneFailureThatRanOutOfTime(t *testing.T) {
	ev := result.Evidence{Audit: transactions.Audit{OK: true}}
	timedOut := func(ops []history.Op) {
		for i := range ops {
			if ops[i].Start >= 10*time.Second && ops[i].Start < 18*time.Second {
				ops[i].Latency, ops[i].Outcome, ops[i].Result = 810*time.Millisecond, history.Fail, "91"
			}
		}
	}
	sc, ops := slowDuring(busyFrom(9*time.Second, 19*time.Second, 0.5))
	timedOut(ops)
	d := during(t, harness.Judge(sc, ops, ev))
	require.Equal(t, check.Unknown, d.Verdict, d.Summary)
	require.Contains(t, d.Summary, "the host was busy")

	sc, ops = slowDuring(busyFrom(0, 0, 0))
	timedOut(ops)
	d = during(t, harness.Judge(sc, ops, ev))
	require.Equal(t, check.Invalid, d.Verdict, d.Summary)
}

// TestBusyHostExcusesShedDeclines: card authorisations declined "91" at once
// because card-api was shedding load (load.ErrShed) are what a starved host
// causes too: unknown on a half-taken host, invalid on a quiet one; the
// same fast "91"s not shed stay invalid even on the busy host.
func TestBusyHostExcusesShedDeclines(t *testing.T) {
	ev := result.Evidence{Audit: transactions.Audit{OK: true}}
	declined := func(ops []history.Op, why string) {
		for i := range ops {
			if ops[i].Start >= 10*time.Second && ops[i].Start < 18*time.Second {
				ops[i].Latency, ops[i].Outcome, ops[i].Result, ops[i].Error = 3*time.Millisecond, history.Fail, "91", why
			}
		}
	}
	sc, ops := slowDuring(busyFrom(9*time.Second, 19*time.Second, 0.5))
	declined(ops, load.ErrShed)
	d := during(t, harness.Judge(sc, ops, ev))
	require.Equal(t, check.Unknown, d.Verdict, d.Summary)

	sc, ops = slowDuring(busyFrom(0, 0, 0))
	declined(ops, load.ErrShed)
	d = during(t, harness.Judge(sc, ops, ev))
	require.Equal(t, check.Invalid, d.Verdict, d.Summary)

	sc, ops = slowDuring(busyFrom(9*time.Second, 19*time.Second, 0.5))
	declined(ops, "")
	d = during(t, harness.Judge(sc, ops, ev))
	require.Equal(t, check.Invalid, d.Verdict, d.Summary)
}
