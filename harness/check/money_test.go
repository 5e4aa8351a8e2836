package check_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
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

	r := check.Money(ops, audit, nil)

	assert.Equal(t, check.Invalid, r.Verdict)
	require.NotEmpty(t, r.Examples)
	assert.Contains(t, r.Examples[0], "unsettled")

	settled := append(entries, transactions.Entry{Key: "p1:in", Account: "a2", Amount: 200, BalanceAfter: 200,
		Kind: transactions.KindTransferIn, Counterparty: "a1", Ref: "c1/p1"})
	assert.Equal(t, check.Valid, check.Money(ops, transactions.AuditEntries(settled), nil).Verdict)
}

// TestMoneyFailsOnABadLedger: whatever the audit finds wrong fails the money
// check, with the audit's words.
func TestMoneyFailsOnABadLedger(t *testing.T) {
	entries := []transactions.Entry{
		{Key: "open:a1", Account: "a1", Amount: 1000, BalanceAfter: 1000, Kind: transactions.KindOpening, Ref: "open:a1"},
		{Key: "auth:m1", Account: "a1", Amount: 500, BalanceAfter: 1500, Kind: transactions.KindCard, Ref: "m1"},
	}

	r := check.Money(nil, transactions.AuditEntries(entries), nil)

	assert.Equal(t, check.Invalid, r.Verdict)
	require.NotEmpty(t, r.Examples)
	assert.Contains(t, r.Examples[0], "card spend must be a debit")
}
