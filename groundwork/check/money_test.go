package check_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/system/transactions"
)

// TestMoneyFailsOnAnUnsettledTransfer: the harness judges money once the
// queues have drained, so a payment debited and never credited is money
// lost, even though the ledger itself (which cannot tell a credit on its
// way from one never coming) passes its audit.
func TestMoneyFailsOnAnUnsettledTransfer(t *testing.T) {
	entries := []transactions.Entry{
		{Key: "open:a1", Account: "a1", Amount: 1000, BalanceAfter: 1000, Kind: transactions.KindOpening, Ref: "open:a1"},
		{Key: "open:a2", Account: "a2", Amount: 0, BalanceAfter: 0, Kind: transactions.KindOpening, Ref: "open:a2"},
		{Key: "p1:out", Account: "a1", Amount: -200, BalanceAfter: 800, Kind: transactions.KindTransferOut, Counterparty: "a2", Ref: "c1/p1"},
	}
	audit := transactions.AuditEntries(entries)
	require.True(t, audit.OK, "the ledger alone is consistent: %v", audit.Problems)
	ops := []history.Op{{Journey: "payments", Key: "c1/p1", Outcome: history.OK, Result: "approved", Amount: 200}}

	r := check.Money(ops, audit, nil, false)

	assert.Equal(t, check.Invalid, r.Verdict)
	require.NotEmpty(t, r.Examples)
	assert.Contains(t, r.Examples[0], "unsettled")

	settled := append(entries, transactions.Entry{Key: "p1:in", Account: "a2", Amount: 200, BalanceAfter: 200,
		Kind: transactions.KindTransferIn, Counterparty: "a1", Ref: "c1/p1"})
	assert.Equal(t, check.Valid, check.Money(ops, transactions.AuditEntries(settled), nil, false).Verdict)
}

// TestMoneyFailsOnABadLedger: whatever the audit finds wrong fails the money
// check, with the audit's words.
func TestMoneyFailsOnABadLedger(t *testing.T) {
	entries := []transactions.Entry{
		{Key: "open:a1", Account: "a1", Amount: 1000, BalanceAfter: 1000, Kind: transactions.KindOpening, Ref: "open:a1"},
		{Key: "auth:m1", Account: "a1", Amount: 500, BalanceAfter: 1500, Kind: transactions.KindCard, Ref: "m1"},
	}

	r := check.Money(nil, transactions.AuditEntries(entries), nil, false)

	assert.Equal(t, check.Invalid, r.Verdict)
	require.NotEmpty(t, r.Examples)
	assert.Contains(t, r.Examples[0], "card spend must be a debit")
}

// TestMoneyWaitsOnDeferredWorkOnlyWhileItMoves: a "91" whose void has not
// yet reversed its debit, an unsettled transfer or a projection behind its
// ledger are invalid once the bank stopped catching up, and unknown when
// the wait for it was cut off while it still was; a finding deferred work
// cannot clear stays invalid either way.
func TestMoneyWaitsOnDeferredWorkOnlyWhileItMoves(t *testing.T) {
	entries := []transactions.Entry{
		{Key: "open:a1", Account: "a1", Amount: 1000, BalanceAfter: 1000, Kind: transactions.KindOpening, Ref: "open:a1"},
		{Key: "auth:m1", Account: "a1", Amount: -300, BalanceAfter: 700, Kind: transactions.KindCard, Ref: "m1"},
	}
	audit := transactions.AuditEntries(entries)
	require.True(t, audit.OK, audit.Problems)
	audit.Refs = map[string]transactions.RefSummary{"m1": {Debits: 1, Debit: -300, Net: -300}}
	voidPending := []history.Op{{Journey: "card-auth", Key: "m1", Outcome: history.Fail, Status: 200, Result: "91", Amount: 300}}

	stopped := check.Money(voidPending, audit, nil, false)
	moving := check.Money(voidPending, audit, nil, true)

	assert.Equal(t, check.Invalid, stopped.Verdict, stopped.Summary)
	assert.Contains(t, stopped.Summary, "1 left after the bank stopped catching up")
	assert.Equal(t, check.Unknown, moving.Verdict, moving.Summary)
	assert.Contains(t, moving.Summary, "still catching up")
	require.NotEmpty(t, moving.Examples)
	assert.Contains(t, moving.Examples[0], "m1")

	behind := []string{"balance of a1 is 1000, its ledger says 700"}
	assert.Equal(t, check.Unknown, check.Money(nil, audit, behind, true).Verdict)
	assert.Equal(t, check.Invalid, check.Money(nil, audit, behind, false).Verdict)

	paymentFailedButMoved := []history.Op{{Journey: "payments", Key: "m1", Outcome: history.Fail, Status: 503, Amount: 300}}
	r := check.Money(paymentFailedButMoved, audit, nil, true)
	assert.Equal(t, check.Invalid, r.Verdict, "nothing reverses a failed payment: catching up cannot clear it")

	approvedTwice := []history.Op{{Journey: "card-auth", Key: "m1", Outcome: history.OK, Result: "00", Amount: 100}}
	assert.Equal(t, check.Invalid, check.Money(approvedTwice, audit, behind, true).Verdict, "a wrong debit is invalid even next to pending work")
}

// TestMoneyCountsAcknowledgedWritesMissing: an approval the load was given
// that the ledger does not have at all (a store that lost power, say) is
// counted first in the summary, by journey, next to the balances that
// disagree.
func TestMoneyCountsAcknowledgedWritesMissing(t *testing.T) {
	entries := []transactions.Entry{
		{Key: "open:a1", Account: "a1", Amount: 1000, BalanceAfter: 1000, Kind: transactions.KindOpening, Ref: "open:a1"},
		{Key: "auth:m1", Account: "a1", Amount: -100, BalanceAfter: 900, Kind: transactions.KindCard, Ref: "m1"},
	}
	ops := []history.Op{
		{Journey: "card-auth", Key: "m1", Outcome: history.OK, Result: "00", Amount: 100},
		{Journey: "card-auth", Key: "m2", Outcome: history.OK, Result: "00", Amount: 50},
		{Journey: "card-auth", Key: "m3", Outcome: history.OK, Result: "00", Amount: 70},
		{Journey: "payments", Key: "c1/p1", Outcome: history.OK, Result: "approved", Amount: 20},
	}

	r := check.Money(ops, transactions.AuditEntries(entries), []string{"a1: served 830, ledger 900"}, false)

	assert.Equal(t, check.Invalid, r.Verdict)
	assert.Contains(t, r.Summary, "3 acknowledged writes missing from the ledger (2 card authorisations, 1 payments)")
	assert.Contains(t, r.Summary, "1 balances disagree with the ledger")
}

// TestMoneyJudgesStandInApprovals: an approval card-api gave standing in is
// right once posted, including over an earlier attempt's reversed debit;
// one not yet settled, and a stand-in decline whose void has not run, are
// deferred work; posted twice is wrong.
func TestMoneyJudgesStandInApprovals(t *testing.T) {
	open := transactions.Entry{Key: "open:a1", Account: "a1", Amount: 1000, BalanceAfter: 1000, Kind: transactions.KindOpening, Ref: "open:a1"}
	debit := func(key string, after int64, standIn bool) transactions.Entry {
		return transactions.Entry{Key: key, Account: "a1", Amount: -300, BalanceAfter: after, Kind: transactions.KindCard,
			Counterparty: "merchant:m", Ref: "m1", StandIn: standIn}
	}
	approved := []history.Op{{Journey: "card-auth", Key: "m1", Outcome: history.OK, Result: "00", Amount: 300}}

	posted := transactions.AuditEntries([]transactions.Entry{open, debit("auth:m1", 700, true)})
	assert.Equal(t, check.Valid, check.Money(approved, posted, nil, false).Verdict)

	overReversed := transactions.AuditEntries([]transactions.Entry{open, debit("auth:m1", 700, false),
		{Key: "auth:m1:reverse", Account: "a1", Amount: 300, BalanceAfter: 1000, Kind: transactions.KindCardReverse, Counterparty: "merchant:m", Ref: "m1"},
		debit("auth:m1:standin", 700, true)})
	require.True(t, overReversed.OK, overReversed.Problems)
	assert.Equal(t, check.Valid, check.Money(approved, overReversed, nil, false).Verdict)

	twice := transactions.AuditEntries([]transactions.Entry{open, debit("auth:m1", 700, false), debit("auth:m1:standin", 400, true)})
	assert.Equal(t, check.Invalid, check.Money(approved, twice, nil, false).Verdict)

	unsettled := transactions.AuditEntries([]transactions.Entry{open})
	unsettled.StandIn.Pending = 1
	r := check.Money(nil, unsettled, nil, true)
	assert.Equal(t, check.Unknown, r.Verdict, r.Summary)
	assert.Equal(t, check.Invalid, check.Money(nil, unsettled, nil, false).Verdict)

	declined := []history.Op{{Journey: "card-auth", Key: "m1", Outcome: history.OK, Result: "51", Amount: 300}}
	applied := transactions.AuditEntries([]transactions.Entry{open, debit("auth:m1", 700, false)})
	assert.Equal(t, check.Unknown, check.Money(declined, applied, nil, true).Verdict, "a stand-in decline's void on its way")
	assert.Equal(t, check.Invalid, check.Money(declined, applied, nil, false).Verdict)
}
