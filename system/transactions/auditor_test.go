package transactions_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/transactions"
)

// ledger builds entries in stream order. Each entry's balance_after follows
// from the account's previous one and its limit is the account's, unless
// the entry sets them, so a bad ledger differs from a good one only where a
// test says.
type ledger struct {
	entries []transactions.Entry
	bal     map[string]int64
	limit   map[string]int64
}

func newLedger() *ledger {
	return &ledger{bal: map[string]int64{}, limit: map[string]int64{}}
}

func (l *ledger) add(e transactions.Entry) *ledger {
	if e.Key == "" {
		e.Key = fmt.Sprintf("k%d", len(l.entries)+1)
	}
	if e.Limit == 0 {
		e.Limit = l.limit[e.Account]
	}
	if e.BalanceAfter == 0 {
		e.BalanceAfter = l.bal[e.Account] + e.Amount
	}
	l.bal[e.Account], l.limit[e.Account] = e.BalanceAfter, e.Limit
	e.Seq = uint64(len(l.entries) + 1)
	l.entries = append(l.entries, e)
	return l
}

func (l *ledger) open(acct string, amount, limit int64) *ledger {
	return l.add(transactions.Entry{Key: "open:" + acct, Account: acct, Amount: amount, Limit: limit,
		Kind: transactions.KindOpening, Counterparty: "external:opening", Ref: "open:" + acct})
}

func (l *ledger) card(acct, msg string, amount int64) *ledger {
	return l.add(transactions.Entry{Key: "auth:" + msg, Account: acct, Amount: amount,
		Kind: transactions.KindCard, Counterparty: "merchant:m001", Ref: msg})
}

func (l *ledger) reverse(acct, msg string, amount int64) *ledger {
	return l.add(transactions.Entry{Account: acct, Amount: amount,
		Kind: transactions.KindCardReverse, Counterparty: "merchant:m001", Ref: msg})
}

func (l *ledger) marker(kind, acct, ref string) *ledger {
	return l.add(transactions.Entry{Key: "auth:" + ref, Account: acct, Kind: kind, Ref: ref})
}

func (l *ledger) out(from, to, ref string, amount int64) *ledger {
	return l.add(transactions.Entry{Key: ref + ":out", Account: from, Amount: amount,
		Kind: transactions.KindTransferOut, Counterparty: to, Ref: ref})
}

func (l *ledger) in(to, from, ref string, amount int64) *ledger {
	return l.add(transactions.Entry{Key: ref + ":in", Account: to, Amount: amount,
		Kind: transactions.KindTransferIn, Counterparty: from, Ref: ref})
}

// opened is a ledger of two accounts: a1 with £100 and a £5 overdraft, a2
// with £50 and none.
func opened() *ledger {
	return newLedger().open("a1", 10000, 500).open("a2", 5000, 0)
}

func TestAuditPassesACleanLedger(t *testing.T) {
	l := opened().
		card("a1", "m1", -1200).                         // approved
		marker(transactions.KindDeclined, "a2", "m2").   // insufficient funds
		card("a1", "m3", -300).reverse("a1", "m3", 300). // approved, then voided
		marker(transactions.KindCardVoid, "a2", "m4").   // voided before it applied
		out("a1", "a2", "p1", -2000).in("a2", "a1", "p1", 2000).
		out("a2", "a1", "p2", -100).in("a1", "a2", "p2", 100).
		marker(transactions.KindDeclined, "a2", "p3"). // payment declined
		card("a1", "m5", -7200)                        // into the overdraft, within it

	a := transactions.AuditEntries(l.entries)

	require.True(t, a.OK, "problems: %v", a.Problems)
	assert.Zero(t, a.ProblemCount)
	assert.Equal(t, 11+2, a.Entries)
	assert.Equal(t, 2, a.Accounts)
	assert.Zero(t, a.Unsettled)
	assert.Equal(t, int64(15000), a.Opening)
	assert.Equal(t, int64(-1200-7200), a.External)
	assert.Equal(t, a.Opening+a.External, a.Total)
	assert.Equal(t, map[string]int64{"a1": -300, "a2": 6900}, a.Balances)
	assert.Equal(t, transactions.RefSummary{Debits: 1, Net: -1200, Debit: -1200, Account: "a1"}, a.Refs["m1"])
	assert.Equal(t, transactions.RefSummary{Debits: 1, Net: 0, Debit: -300, Account: "a1"}, a.Refs["m3"])
	assert.Equal(t, transactions.RefSummary{Voided: true}, a.Refs["m4"])
	assert.Zero(t, a.Refs["m2"].Debits)
}

// TestAuditCatchesABadLedger feeds the audit ledgers that are wrong in one
// way each; every one must come out not OK, with a problem that says what.
func TestAuditCatchesABadLedger(t *testing.T) {
	cases := []struct {
		name   string
		ledger *ledger
		want   string // a problem contains this
	}{
		{"card entry credits the account", opened().card("a1", "m1", 500), "card spend must be a debit"},
		{"card entry moves nothing", opened().card("a1", "m1", 0), "card spend must be a debit"},
		{"card entry without its authorisation", opened().card("a1", "", -500), "no ref"},
		{"reversal with no debit", opened().reverse("a1", "m9", 300), "no debit"},
		{"reversal before its debit", opened().reverse("a1", "m1", 300).card("a1", "m1", -300), "no debit"},
		{"reversal on another account", opened().card("a1", "m1", -500).reverse("a2", "m1", 500), "its debit is on a1"},
		{"reversal larger than its debit", opened().card("a1", "m1", -500).reverse("a1", "m1", 800), "reversed more than"},
		{"reversed twice", opened().card("a1", "m1", -500).reverse("a1", "m1", 500).reverse("a1", "m1", 500), "reversed more than"},
		{"reversal that debits", opened().card("a1", "m1", -500).reverse("a1", "m1", -500), "must be a credit"},
		{"second opening entry", opened().add(transactions.Entry{Key: "open2:a1", Account: "a1", Amount: 500,
			Kind: transactions.KindOpening, Counterparty: "external:opening", Ref: "open2:a1"}), "opened twice"},
		{"overdraft limit raised", opened().add(transactions.Entry{Account: "a1", Amount: -10800, Limit: 1000,
			Kind: transactions.KindCard, Counterparty: "merchant:m001", Ref: "m1"}), "limit changed"},
		{"overdraft limit changed by a marker", opened().add(transactions.Entry{Account: "a2", Limit: 700,
			Kind: transactions.KindDeclined, Ref: "m1"}), "limit changed"},
		{"declined marker moves money", opened().add(transactions.Entry{Account: "a1", Amount: -100,
			Kind: transactions.KindDeclined, Ref: "m1"}), "marker"},
		{"transfer signs swapped", opened().out("a1", "a2", "p1", 200).in("a2", "a1", "p1", -200), "p1"},
		{"transfer-in that debits", opened().out("a1", "a2", "p1", -200).in("a2", "a1", "p1", -200), "p1"},
		{"transfer credit names the wrong payer", opened().open("a3", 0, 0).
			out("a1", "a2", "p1", -200).in("a2", "a3", "p1", 200), "does not match"},
		{"transfer credited to the wrong account", opened().open("a3", 0, 0).
			out("a1", "a2", "p1", -200).in("a3", "a1", "p1", 200), "does not match"},
		{"transfer credited without its debit", opened().in("a2", "a1", "p1", 200), "without its debit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := transactions.AuditEntries(c.ledger.entries)

			assert.False(t, a.OK, "the audit passed a bad ledger")
			assert.Positive(t, a.ProblemCount)
			assert.True(t, containsProblem(a, c.want), "no problem mentions %q: %v", c.want, a.Problems)
		})
	}
}

// TestAuditReportsAnUnsettledTransfer: a debit without its credit is not a
// problem of the ledger (the credit may be on its way) but must be reported
// as unsettled, with the money in flight, for the harness to judge once the
// queues have drained.
func TestAuditReportsAnUnsettledTransfer(t *testing.T) {
	a := transactions.AuditEntries(opened().out("a1", "a2", "p1", -200).entries)

	assert.Equal(t, 1, a.Unsettled)
	assert.Equal(t, int64(200), a.InFlight)
	assert.True(t, a.OK, "problems: %v", a.Problems)
}

func containsProblem(a transactions.Audit, s string) bool {
	for _, p := range a.Problems {
		if strings.Contains(p, s) {
			return true
		}
	}
	return false
}

func (l *ledger) standIn(acct, msg string, amount int64) *ledger {
	return l.add(transactions.Entry{Key: "auth:" + msg, Account: acct, Amount: amount,
		Kind: transactions.KindCard, Counterparty: "merchant:m001", Ref: msg, StandIn: true})
}

// TestAuditCountsStandInApprovals: a stand-in approval is a card debit
// posted after the answer, which may take its account below its limit. The
// audit passes it, counts it, and says how far below the limit it went; a
// reversal of it is as any other; an ordinary debit below the limit is
// still a problem, and only a card debit may be marked stand-in.
func TestAuditCountsStandInApprovals(t *testing.T) {
	l := opened().
		standIn("a1", "m1", -1200). // within the funds
		standIn("a2", "m2", -4000). // within the funds
		standIn("a2", "m3", -2500). // 1,500 below a2's limit of 0
		standIn("a1", "m4", -300).  // within the overdraft
		reverse("a1", "m4", 300).   // and voided later
		marker(transactions.KindDeclined, "a2", "m5")

	a := transactions.AuditEntries(l.entries)

	require.True(t, a.OK, "problems: %v", a.Problems)
	assert.Equal(t, transactions.StandInSummary{Posted: 4, PostedAmount: 1200 + 4000 + 2500 + 300, BelowLimit: 1, Overdrawn: 1500}, a.StandIn)
	assert.Equal(t, a.Opening+a.External, a.Total)
	assert.Equal(t, transactions.RefSummary{Debits: 1, Net: -2500, Debit: -2500, Account: "a2", StandIn: true}, a.Refs["m3"])

	bad := opened().card("a2", "m1", -6000)
	a = transactions.AuditEntries(bad.entries)
	assert.True(t, containsProblem(a, "below its limit"), "an ordinary debit below the limit: %v", a.Problems)

	bad = opened().out("a1", "a2", "p1", -200)
	bad.entries[len(bad.entries)-1].StandIn = true
	a = transactions.AuditEntries(bad.entries)
	assert.True(t, containsProblem(a, "only a card debit"), "a stand-in transfer: %v", a.Problems)

	bad = opened().standIn("a1", "m1", -500).standIn("a1", "m1", -500)
	bad.entries[len(bad.entries)-1].Key = "auth:m1:standin"
	a = transactions.AuditEntries(bad.entries)
	assert.True(t, containsProblem(a, "moved more than its debit"), "a stand-in approval posted twice: %v", a.Problems)

	// Posted over an earlier attempt's debit that a void reversed, before
	// or after the reversal: one debit stands.
	for _, l := range []*ledger{
		opened().card("a1", "m1", -500).reverse("a1", "m1", 500).standIn("a1", "m1", -500),
		opened().card("a1", "m1", -500).standIn("a1", "m1", -500).reverse("a1", "m1", 500),
	} {
		l.entries[len(l.entries)-1].Key += ":x" // keys of their own
		l.entries[len(l.entries)-2].Key += ":y"
		a = transactions.AuditEntries(l.entries)
		require.True(t, a.OK, "problems: %v", a.Problems)
		assert.Equal(t, transactions.RefSummary{Debits: 2, Debit: -500, Account: "a1", Net: -500, StandIn: true}, a.Refs["m1"])
	}
}
