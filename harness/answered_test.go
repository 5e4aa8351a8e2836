package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
)

// TestAnsweredWithinTellsPatienceFromAHang: as in a CI run of
// TestAccountsBlackholed, a payment whose two first tries were each
// answered 504 after edge's 2 s and whose third try was cut off by the
// app's 6 s patience, 1.7 s in, was not left unanswered by the bank; a try
// that ran into the app's own 3 s timeout was.
func TestAnsweredWithinTellsPatienceFromAHang(t *testing.T) {
	s := time.Second
	tries := []history.Op{
		{Journey: "payments", Key: "p1", Start: 10 * s, Latency: 2 * s, Status: 504, Outcome: history.Fail, Superseded: true},
		{Journey: "payments", Key: "p1", Start: 12*s + 100*time.Millisecond, Latency: 2 * s, Status: 504, Outcome: history.Fail, Superseded: true},
	}
	cutByPatience := history.Op{Journey: "payments", Key: "p1", Start: 10 * s, Latency: 6 * s, Outcome: history.Unknown, Attempts: 3}
	ops := append(tries, cutByPatience)

	r := judgeAnswered("payments", ops, lastTries(ops, "payments"), 7*s, 3*s)
	assert.Equal(t, check.Valid, r.Verdict, r.Summary)
	assert.Contains(t, r.Summary, "1 last tries cut off by the customer's patience")

	hung := history.Op{Journey: "payments", Key: "p2", Start: 20 * s, Latency: 3 * s, Outcome: history.Unknown, Attempts: 1}
	r = judgeAnswered("payments", append(ops, hung), lastTries(ops, "payments"), 7*s, 3*s)
	assert.Equal(t, check.Invalid, r.Verdict, "a try that ran into the client's own timeout went unanswered")

	slow := history.Op{Journey: "payments", Key: "p3", Start: 30 * s, Latency: 8 * s, Status: 504, Outcome: history.Fail}
	assert.Equal(t, check.Invalid, judgeAnswered("payments", []history.Op{slow}, nil, 7*s, 3*s).Verdict, "over the bound")
}
