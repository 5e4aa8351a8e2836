package check_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/system/transactions"
)

// answeredLedger is an audit's detail for the answers in goodAnswers.
func answeredLedger() transactions.Audit {
	return transactions.Audit{OK: true, Refs: map[string]transactions.RefSummary{
		"m1": {Debits: 1, Debit: -100, Net: -100}, // approved
		"m2": {},                                  // declined: a zero-amount marker
		"m3": {Debits: 1, Debit: -100, Net: 0},    // applied, then reversed by its void
		"m4": {Voided: true},                      // voided before it applied
		// a stand-in approval posted over an earlier attempt's debit,
		// which its void reversed
		"m6": {Debits: 2, Debit: -100, Net: -100, StandIn: true},
	}}
}

var goodAnswers = []check.CardAnswer{
	{MessageID: "m1", Code: "00", Approved: true},
	{MessageID: "m2", Code: "51"},
	{MessageID: "m3", Code: "91"},
	{MessageID: "m4", Code: "91"},
	{MessageID: "m5", Code: "14"}, // never reached the ledger
	{MessageID: "m6", Code: "00", Approved: true},
}

func TestCardAnswersAgreeWithTheLedger(t *testing.T) {
	r := check.CardAnswers(goodAnswers, answeredLedger(), nil, false)

	assert.Equal(t, check.Valid, r.Verdict, r.Examples)
	assert.Equal(t, "card-answers", r.Check)
	assert.Contains(t, r.Summary, "0 of 6")
	assert.Equal(t, check.Valid, check.CardAnswers(nil, transactions.Audit{OK: true}, nil, false).Verdict, "no answers, nothing wrong")
}

func TestCardAnswersCatchADisagreement(t *testing.T) {
	cases := []struct {
		name   string
		answer check.CardAnswer
		ref    transactions.RefSummary
	}{
		{"approval never debited", check.CardAnswer{MessageID: "x", Code: "00", Approved: true}, transactions.RefSummary{}},
		{"approval debited twice", check.CardAnswer{MessageID: "x", Code: "00", Approved: true}, transactions.RefSummary{Debits: 2, Debit: -100, Net: -200}},
		{"stand-in approval debited twice", check.CardAnswer{MessageID: "x", Code: "00", Approved: true}, transactions.RefSummary{Debits: 2, Debit: -100, Net: -200, StandIn: true}},
		{"approval debited twice, neither stand-in", check.CardAnswer{MessageID: "x", Code: "00", Approved: true}, transactions.RefSummary{Debits: 2, Debit: -100, Net: -100}},
		{"approval reversed", check.CardAnswer{MessageID: "x", Code: "00", Approved: true}, transactions.RefSummary{Debits: 1, Debit: -100, Net: 0}},
		{"decline debited", check.CardAnswer{MessageID: "x", Code: "51"}, transactions.RefSummary{Debits: 1, Debit: -100, Net: -100}},
		{"issuer unavailable not reversed", check.CardAnswer{MessageID: "x", Code: "91"}, transactions.RefSummary{Debits: 1, Debit: -100, Net: -100}},
		{"invalid card debited", check.CardAnswer{MessageID: "x", Code: "14"}, transactions.RefSummary{Debits: 1, Debit: -100, Net: -100}},
		{"approved flag on a decline", check.CardAnswer{MessageID: "x", Code: "51", Approved: true}, transactions.RefSummary{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			audit := answeredLedger()
			audit.Refs["x"] = c.ref

			r := check.CardAnswers(append(goodAnswers[:len(goodAnswers):len(goodAnswers)], c.answer), audit, nil, false)

			assert.Equal(t, check.Invalid, r.Verdict)
			require.Len(t, r.Examples, 1)
			assert.Contains(t, r.Examples[0], "message x")
			assert.Contains(t, r.Summary, "1 of 7")
		})
	}
}

func TestCardAnswersUnknownWithoutEvidence(t *testing.T) {
	r := check.CardAnswers(nil, answeredLedger(), errors.New("card-api: connection refused"), false)
	assert.Equal(t, check.Unknown, r.Verdict)
	assert.Contains(t, r.Summary, "connection refused")

	r = check.CardAnswers(goodAnswers, transactions.Audit{OK: true}, nil, false)
	assert.Equal(t, check.Unknown, r.Verdict, "an audit without detail cannot be compared")
}

// TestCardAnswersWaitOnAVoidOnlyWhileTheBankCatchesUp: a "91" whose debit
// still stands is a void not yet applied: unknown while the bank was still
// catching up when the wait ended, invalid once it had stopped; a decline
// for a business reason with a debit has no void coming and is invalid.
func TestCardAnswersWaitOnAVoidOnlyWhileTheBankCatchesUp(t *testing.T) {
	audit := answeredLedger()
	audit.Refs["x"] = transactions.RefSummary{Debits: 1, Debit: -100, Net: -100}
	unavailable := append(goodAnswers[:len(goodAnswers):len(goodAnswers)], check.CardAnswer{MessageID: "x", Code: "91"})
	declined := append(goodAnswers[:len(goodAnswers):len(goodAnswers)], check.CardAnswer{MessageID: "x", Code: "51"})

	moving := check.CardAnswers(unavailable, audit, nil, true)
	assert.Equal(t, check.Unknown, moving.Verdict, moving.Summary)
	assert.Contains(t, moving.Summary, "still catching up")
	assert.Equal(t, check.Invalid, check.CardAnswers(unavailable, audit, nil, false).Verdict)
	assert.Equal(t, check.Invalid, check.CardAnswers(declined, audit, nil, true).Verdict)
	standIn := append(goodAnswers[:len(goodAnswers):len(goodAnswers)], check.CardAnswer{MessageID: "x", Code: "51", StandIn: true})
	assert.Equal(t, check.Unknown, check.CardAnswers(standIn, audit, nil, true).Verdict, "a stand-in decline has its void on the way")
	assert.Equal(t, check.Invalid, check.CardAnswers(standIn, audit, nil, false).Verdict)
}

// A message id the bank answered for a request it did not carry out (an id
// reused for another card or amount, answered with the first request's
// approval) is an approval that charged someone else, or another amount.
func TestCardAnswersApprovedForWhatTheLedgerDidNotDebit(t *testing.T) {
	ledger := transactions.Audit{OK: true, Refs: map[string]transactions.RefSummary{
		"m1": {Debits: 1, Debit: -100, Net: -100, Account: "a1"},
	}}
	ok := check.CardAnswer{MessageID: "m1", Code: "00", Approved: true, Amount: 100, Account: "a1"}
	assert.Equal(t, check.Valid, check.CardAnswers([]check.CardAnswer{ok}, ledger, nil, false).Verdict)

	amount := ok
	amount.Amount = 500
	r := check.CardAnswers([]check.CardAnswer{amount}, ledger, nil, false)
	assert.Equal(t, check.Invalid, r.Verdict)
	assert.Contains(t, r.Examples[0], "approved for 500, but the ledger debited 100")

	other := ok
	other.Account = "a2"
	r = check.CardAnswers([]check.CardAnswer{other}, ledger, nil, false)
	assert.Equal(t, check.Invalid, r.Verdict)
	assert.Contains(t, r.Examples[0], "the ledger debited a1")
}
