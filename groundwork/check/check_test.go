package check_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/transactions"
)

const ms = time.Millisecond

// ops makes n ops of journey, one every step from start, with outcome o.
func ops(journey string, start, step time.Duration, n int, o history.Outcome, lat time.Duration) []history.Op {
	var out []history.Op
	for i := range n {
		out = append(out, history.Op{Journey: journey, Start: start + time.Duration(i)*step, Latency: lat, Outcome: o})
	}
	return out
}

func TestQuantileIsExact(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 1000; i++ {
		s = append(s, time.Duration(i)*ms)
	}
	assert.Equal(t, 990*ms, check.Quantile(s, 0.99))
	assert.Equal(t, 500*ms, check.Quantile(s, 0.5))
	assert.Equal(t, 1000*ms, check.Quantile(s, 1))
}

func TestSLO(t *testing.T) {
	slo := check.SLO{MinSuccess: 0.99, P99: 100 * ms, MinOps: 10}
	h := append(ops("a", 0, 10*ms, 99, history.OK, 5*ms), ops("a", time.Second, 10*ms, 1, history.Fail, 5*ms)...)
	r, s := check.CheckSLO(h, "a", check.Window{Name: "steady", From: 0, To: 2 * time.Second}, slo)
	assert.Equal(t, check.Valid, r.Verdict, r.Summary)
	assert.Equal(t, 100, s.Count)

	h = append(h, ops("a", time.Second, 10*ms, 5, history.Unknown, 2*time.Second)...)
	r, _ = check.CheckSLO(h, "a", check.Window{Name: "during", From: 0, To: 2 * time.Second}, slo)
	assert.Equal(t, check.Invalid, r.Verdict)
	assert.NotEmpty(t, r.Examples)

	r, _ = check.CheckSLO(h, "b", check.Window{Name: "steady", From: 0, To: time.Second}, slo)
	assert.Equal(t, check.Unknown, r.Verdict, "no ops: cannot say")
}

func TestRecoveryTimeHasSubSecondResolution(t *testing.T) {
	slo := check.SLO{MinSuccess: 0.95, P99: 100 * ms, MinOps: 1}
	// failing from 0 to 2.3s, fine after
	h := append(ops("a", 0, 10*ms, 230, history.Fail, 5*ms), ops("a", 2300*ms, 10*ms, 500, history.OK, 5*ms)...)
	d, ok := check.Recovery(h, "a", 0, 7300*ms, slo)
	assert.True(t, ok)
	// The first all-good 1s window starts at 2.3s; a 95% window may begin a
	// little before it (up to 5% failures inside).
	assert.InDelta(t, float64(2300*ms), float64(d), float64(100*ms))

	_, ok = check.Recovery(ops("a", 0, 10*ms, 300, history.Fail, 5*ms), "a", 0, 3*time.Second, slo)
	assert.False(t, ok)
}

// TestRecoveryUnseenIsUnknown: a journey still failing when the run ends
// is invalid only when the run watched it for the whole limit; a run that
// ended sooner (its fault recovered late) could not see, and says so.
func TestRecoveryUnseenIsUnknown(t *testing.T) {
	slo := check.SLO{MinSuccess: 0.95, P99: 100 * ms, MinOps: 1}
	failing := ops("a", 0, 10*ms, 2000, history.Fail, 5*ms)
	r, _ := check.CheckRecovery(failing, "a", 0, 20*time.Second, slo, 10*time.Second)
	assert.Equal(t, check.Invalid, r.Verdict, "watched 20 s against a 10 s limit: %s", r.Summary)
	r, _ = check.CheckRecovery(failing, "a", 0, 3*time.Second, slo, 10*time.Second)
	assert.Equal(t, check.Unknown, r.Verdict, "watched 3 s against a 10 s limit: %s", r.Summary)
	r, _ = check.CheckRecovery(nil, "a", 5*time.Second, 5*time.Second, slo, 10*time.Second)
	assert.Equal(t, check.Unknown, r.Verdict, "the run ended at the recovery: %s", r.Summary)
	assert.Contains(t, r.Summary, "too soon")
}

func TestMoneyAgreesWithTheLedger(t *testing.T) {
	audit := transactions.Audit{OK: true, Refs: map[string]transactions.RefSummary{
		"m1": {Debits: 1, Net: -100}, // approved
		"m2": {},                     // declined
		"m3": {Debits: 1, Net: 0},    // voided after approval: reversed
	}}
	good := []history.Op{
		{Journey: "card-auth", Key: "m1", Outcome: history.OK, Result: "00", Amount: 100},
		{Journey: "card-auth", Key: "m2", Outcome: history.OK, Result: "51", Amount: 100},
		{Journey: "card-auth", Key: "m3", Outcome: history.Fail, Result: "91", Amount: 100},
	}
	assert.Equal(t, check.Valid, check.Money(good, audit, nil, false).Verdict)

	bad := append(good, history.Op{Journey: "card-auth", Key: "m3", Outcome: history.OK, Result: "00", Amount: 100})
	r := check.Money(bad, audit, nil, false)
	assert.Equal(t, check.Invalid, r.Verdict)
	assert.Contains(t, r.Examples[0], "m3")

	audit.OK, audit.Problems = false, []string{"key x applied twice"}
	assert.Equal(t, check.Invalid, check.Money(good, audit, nil, false).Verdict)
	audit.OK, audit.Problems = true, nil
	assert.Equal(t, check.Invalid, check.Money(good, audit, []string{"balance of a1 is 5, its ledger says 6"}, false).Verdict)
}

func TestAnswersRuledOutBySeededData(t *testing.T) {
	good := []history.Op{
		{Journey: "card-auth", Key: "m1", Outcome: history.OK, Result: "00"},
		{Journey: "card-auth", Key: "m2", Outcome: history.OK, Result: "51"},
		{Journey: "card-auth", Key: "m3", Outcome: history.Fail, Result: "91"},
		{Journey: "card-auth", Key: "m4", Outcome: history.Unknown},
		{Journey: "payments", Key: "p1", Outcome: history.OK, Result: "approved"},
	}
	r := check.Answers(good)
	assert.Equal(t, check.Valid, r.Verdict, r.Summary)
	assert.Contains(t, r.Summary, "0 of 4")

	bad := append(good, history.Op{Journey: "card-auth", Key: "m5", Outcome: history.Fail, Result: "14", Start: 3 * time.Second})
	r = check.Answers(bad)
	assert.Equal(t, check.Invalid, r.Verdict)
	assert.Contains(t, r.Examples[0], "m5")
	assert.Contains(t, r.Examples[0], "invalid card")
}

func TestExerciseNoticesCustomersOutOfMoney(t *testing.T) {
	w := check.Window{Name: "steady", From: 0, To: 10 * time.Second}
	funded := []history.Op{
		{Journey: "card-auth", Outcome: history.OK, Result: "00", Start: time.Second},
		{Journey: "card-auth", Outcome: history.OK, Result: "00", Start: 2 * time.Second},
		{Journey: "payments", Outcome: history.OK, Result: "declined", Start: 3 * time.Second},
		{Journey: "card-auth", Outcome: history.OK, Result: "51", Start: 20 * time.Second}, // outside the window
	}
	assert.Equal(t, check.Valid, check.Exercise(funded, w).Verdict)
	dry := append(funded,
		history.Op{Journey: "card-auth", Outcome: history.OK, Result: "51", Start: 4 * time.Second},
		history.Op{Journey: "card-auth", Outcome: history.OK, Result: "51", Start: 5 * time.Second})
	r := check.Exercise(dry, w)
	assert.Equal(t, check.Unknown, r.Verdict)
	assert.Contains(t, r.Summary, "run out of money")
	assert.Equal(t, check.Valid, check.Exercise(nil, w).Verdict, "no money journeys, nothing to judge")
	assert.Equal(t, check.Unknown, check.Exercise([]history.Op{{Journey: "payments", Outcome: history.Unknown, Start: time.Second}}, w).Verdict)
}

// TestReplicasMustAgree: copies of a stream that differ in any way are a
// split store; a node that cannot say makes the check unknown.
func TestReplicasMustAgree(t *testing.T) {
	same := platform.StreamState{Messages: 10, Bytes: 900, FirstSeq: 1, LastSeq: 10}
	short := platform.StreamState{Messages: 7, Bytes: 630, FirstSeq: 1, LastSeq: 7}
	assert.Equal(t, check.Valid, check.Replicas("LEDGER", map[string]platform.StreamState{"store-0": same, "store-1": same, "store-2": same}, nil).Verdict)
	r := check.Replicas("LEDGER", map[string]platform.StreamState{"store-0": same, "store-1": short, "store-2": same}, nil)
	assert.Equal(t, check.Invalid, r.Verdict)
	assert.Contains(t, r.Summary, "store-1: 7 messages, seq 1-7")
	assert.Equal(t, check.Unknown, check.Replicas("LEDGER", map[string]platform.StreamState{"store-0": same, "store-2": same}, errors.New("store-1: refused")).Verdict)
}
