package check

import (
	"fmt"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/transactions"
)

// CardAnswer is the answer card-api gave the card network for one message,
// as card-api recorded it (first answer wins, and a retry gets it again).
type CardAnswer struct {
	MessageID string `json:"message_id"`
	Code      string `json:"code"`
	Approved  bool   `json:"approved"`
	// What the message asked for, from the history (zero when unknown):
	// an approval must have debited this amount from this account.
	Amount  int64  `json:"amount,omitempty"`
	Account string `json:"account,omitempty"`
	// StandIn says card-api gave the answer alone, while card-processing
	// could not (cardapi.StandInReason): a decline it gave has a void on
	// its way, as a "91" has.
	StandIn bool `json:"stand_in,omitempty"`
}

// CardAnswers checks every answer card-api gave the card network against
// the ledger audit (taken with detail, once the queues have drained): an
// approval ("00") debited its account exactly once and was not reversed
// (a stand-in approval posted over an earlier attempt's reversed debit
// counts as that one debit);
// every other answer (a decline, "91 issuer unavailable", an invalid or
// restricted card) left no money moved, net of any reversal. Unlike Money,
// which judges what the load saw, it judges what the bank says it answered,
// including answers the load never received.
//
// A declined answer whose debit still stands is deferred work not yet done
// when card-api declined for want of an answer ("91": it queued a void
// first): judged as Money judges such findings (catchingUp).
//
// It is unknown when the answers could not be read (readErr) or the audit
// has no per-authorisation detail.
func CardAnswers(answers []CardAnswer, audit transactions.Audit, readErr error, catchingUp bool) Result {
	r := Result{Check: "card-answers", Verdict: Valid}
	switch {
	case readErr != nil:
		r.Verdict, r.Summary = Unknown, "card-api's answers unavailable: "+readErr.Error()
		return r
	case audit.Refs == nil && len(answers) > 0:
		r.Verdict, r.Summary = Unknown, "the audit has no per-authorisation detail to compare answers with"
		return r
	}
	var approved, unavailable int
	var violations, late []string
	for _, a := range answers {
		why := ""
		ref := audit.Refs[a.MessageID]
		switch {
		case a.Approved != (a.Code == balance.CodeApproved):
			why = fmt.Sprintf("answered code %s with approved=%v", a.Code, a.Approved)
		case a.Code == balance.CodeApproved:
			approved++
			switch {
			case !(ref.Debits == 1 || ref.Debits == 2 && ref.StandIn) || ref.Net >= 0 || ref.Net != ref.Debit:
				why = fmt.Sprintf("approved, but the ledger has %d debits (first %d), net %d", ref.Debits, ref.Debit, ref.Net)
			case a.Amount != 0 && ref.Debit != -a.Amount:
				why = fmt.Sprintf("approved for %d, but the ledger debited %d", a.Amount, -ref.Debit)
			case a.Account != "" && ref.Account != "" && ref.Account != a.Account:
				why = fmt.Sprintf("approved on account %s, but the ledger debited %s", a.Account, ref.Account)
			}
		default:
			if a.Code == balance.CodeIssuerUnavailable {
				unavailable++
			}
			if ref.Net != 0 && (a.Code == balance.CodeIssuerUnavailable || a.StandIn) {
				// A decline card-api gave without card-processing's answer
				// ("91", or its own when standing in) has a void on its way.
				late = append(late, fmt.Sprintf("message %s: answered %s, but the ledger moved %d (%d debits; its void not yet applied)", a.MessageID, a.Code, ref.Net, ref.Debits))
				continue
			}
			if ref.Net != 0 {
				why = fmt.Sprintf("answered %s, but the ledger moved %d (%d debits)", a.Code, ref.Net, ref.Debits)
			}
		}
		if why != "" {
			violations = append(violations, fmt.Sprintf("message %s: %s", a.MessageID, why))
		}
	}
	summary := fmt.Sprintf("%d of %d answers card-api gave the network disagree with the ledger (%d approvals, %d declines of which %d issuer unavailable)",
		len(violations)+len(late), len(answers), approved, len(answers)-approved, unavailable)
	r.Verdict, r.Summary, r.Examples = judgeDeferred(violations, late, catchingUp, "", summary)
	return r
}
