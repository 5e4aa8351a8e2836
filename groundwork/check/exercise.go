package check

import (
	"fmt"

	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/system/balance"
)

// MinApprovedShare is the share of the steady window's answered card
// authorisations and payments that must be approvals for a scenario to have
// exercised the money path. Under it the customers have run out of money:
// the bank answers "insufficient funds" without moving any, which proves
// little about money under faults.
const MinApprovedShare = 0.5

// Exercise checks that the load moved money in the steady window: most
// answered card authorisations and payments were approved rather than
// declined for insufficient funds. It is unknown, not invalid, when they
// were not: the bank did nothing wrong, the run just could not tell.
func Exercise(ops []history.Op, w Window) Result {
	r := Result{Check: "exercise", Window: w.Name, Verdict: Valid}
	var sent, approved, declined int
	for _, o := range ops {
		if !w.Contains(o) || (o.Journey != "card-auth" && o.Journey != "payments") {
			continue
		}
		sent++
		if o.Outcome != history.OK {
			continue
		}
		switch {
		case o.Journey == "card-auth" && o.Result == balance.CodeApproved, o.Journey == "payments" && o.Result == "approved":
			approved++
		case o.Journey == "card-auth" && o.Result == balance.CodeInsufficientFunds, o.Journey == "payments" && o.Result == "declined":
			declined++
		}
	}
	n := approved + declined
	if sent == 0 {
		r.Summary = "the load has no card authorisations or payments"
		return r
	}
	if n == 0 {
		r.Verdict, r.Summary = Unknown, "no card authorisation or payment was answered"
		return r
	}
	share := float64(approved) / float64(n)
	r.Summary = fmt.Sprintf("%.1f%% of %d answered card authorisations and payments approved", 100*share, n)
	if share < MinApprovedShare {
		r.Verdict = Unknown
		r.Summary += fmt.Sprintf(" (< %.0f%%): the customers have run out of money, so money moved too little to judge; seed more customers (FAULTLINE_CUSTOMERS)", 100*MinApprovedShare)
	}
	return r
}

// MinContended is how many approvals and how many "insufficient funds"
// declines a contention workload must see for its money to have been
// exercised at the accounts' limits.
const MinContended = 20

// ExerciseContended checks that a contention workload really raced at the
// limit: card authorisations on the hot accounts were approved (money
// moved) and declined for insufficient funds (the accounts were at their
// limit) at least MinContended times each. Unknown otherwise.
func ExerciseContended(ops []history.Op) Result {
	r := Result{Check: "exercise", Verdict: Valid}
	var approved, declined int
	for _, o := range ops {
		if o.Journey != "card-auth" || o.Superseded || o.Outcome != history.OK {
			continue
		}
		switch o.Result {
		case balance.CodeApproved:
			approved++
		case balance.CodeInsufficientFunds:
			declined++
		}
	}
	r.Summary = fmt.Sprintf("contended accounts: %d authorisations approved, %d declined at the limit", approved, declined)
	if approved < MinContended || declined < MinContended {
		r.Verdict = Unknown
		r.Summary += fmt.Sprintf(" (each must be at least %d for the race at the limit to have happened)", MinContended)
	}
	return r
}
