package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
)

// answers makes n card-auth answers ending at end, ok of them successful.
func answers(end time.Duration, n, ok int) []history.Op {
	var ops []history.Op
	for i := range n {
		o := history.Op{Journey: "card-auth", Start: end - 50*time.Millisecond, Latency: 50 * time.Millisecond, Outcome: history.Fail}
		if i < ok {
			o.Outcome = history.OK
		}
		ops = append(ops, o)
	}
	return ops
}

// TestAbortGuardJudgesTheLastSpan: the guard fires only on the answers that
// ended within the span, with enough of them, under the floor; resent
// attempts the customer never saw, other journeys and older answers do not
// count.
func TestAbortGuardJudgesTheLastSpan(t *testing.T) {
	a := &Abort{Journey: "card-auth", MinSuccess: 0.5, Over: 3 * time.Second}
	now := 10 * time.Second

	_, _, under := a.breached(answers(now, 10, 2), now)
	assert.True(t, under, "20% of 10 answers is under a 50% floor")

	_, _, under = a.breached(answers(now, 10, 6), now)
	assert.False(t, under, "60% holds")

	_, n, under := a.breached(answers(now, 4, 0), now)
	assert.False(t, under, "4 answers are too few to stop a game day on")
	assert.Equal(t, 4, n)

	_, n, _ = a.breached(answers(now-4*time.Second, 10, 0), now)
	assert.Zero(t, n, "answers older than the span do not count")

	resent := answers(now, 10, 0)
	for i := range resent {
		resent[i].Superseded = true
	}
	_, n, _ = a.breached(append(resent, answers(now, 5, 5)...), now)
	assert.Equal(t, 5, n, "attempts the client gave up on are not answers")

	other := answers(now, 10, 0)
	for i := range other {
		other[i].Journey = "payments"
	}
	_, n, _ = a.breached(other, now)
	assert.Zero(t, n)
}

func TestAbortGuardCheck(t *testing.T) {
	a := &Abort{Journey: "card-auth", MinSuccess: 0.5, Over: 3 * time.Second}

	fired := (&guardState{fired: true, at: 12 * time.Second, reason: "card-auth success 10%"}).result(a)
	assert.Equal(t, check.Unknown, fired.Verdict, "the faults were cut short: the SLO checks judge the bank")
	assert.Contains(t, fired.Summary, "cut short")

	held := (&guardState{lowest: 0.9, looked: 40}).result(a)
	assert.Equal(t, check.Valid, held.Verdict)
	assert.Contains(t, held.Summary, "90%")

	blind := (&guardState{lowest: 1}).result(a)
	assert.Equal(t, check.Unknown, blind.Verdict, "a guard that never had enough answers did not look")
}

func TestAbortValidates(t *testing.T) {
	assert.NoError(t, (*Abort)(nil).validate())
	assert.Error(t, (&Abort{Journey: "card-auth", MinSuccess: 0, Over: time.Second}).validate())
	assert.Error(t, (&Abort{Journey: "card-auth", MinSuccess: 0.5}).validate())
	assert.Error(t, (&Abort{Journey: "no-such", MinSuccess: 0.5, Over: time.Second}).validate())
	assert.NoError(t, (&Abort{Journey: "card-auth", MinSuccess: 0.5, Over: time.Second}).validate())
}
