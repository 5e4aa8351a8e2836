package check

import (
	"fmt"
	"sort"

	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/system/transactions"
)

// Money checks the bank's money invariants: the ledger audit is clean (no
// money created or destroyed, no balance below its limit, no key applied
// twice, every transfer settled), every balance the balance service serves
// equals its ledger, and the history agrees with the ledger: an approved
// authorisation or payment is in the ledger exactly once with its amount, a
// declined or failed one moved no money, an unknown one moved it at most
// once.
//
// Some findings are deferred work not yet done rather than money done
// wrong: a transfer not yet settled, a card authorisation that failed (a
// "91") whose void has not yet reversed its debit, a balance projection
// behind its ledger (projectionMismatches are all of that kind). They are
// violations when the bank had stopped working through its backlog when
// the audit was taken; when the wait for it was cut off while the bank was
// still catching up (catchingUp), they make the check unknown, with how
// many were left: the money is in flight, not yet provably right or wrong.
func Money(ops []history.Op, audit transactions.Audit, projectionMismatches []string, catchingUp bool) Result {
	r := Result{Check: "money", Verdict: Valid}
	var violations, late []string
	bad := func(format string, args ...any) { violations = append(violations, fmt.Sprintf(format, args...)) }
	pending := func(format string, args ...any) { late = append(late, fmt.Sprintf(format, args...)) }
	if !audit.OK {
		for _, p := range audit.Problems {
			bad("audit: %s", p)
		}
		if len(audit.Problems) == 0 {
			bad("audit not ok")
		}
	}
	if audit.Unsettled > 0 {
		pending("audit: %d transfers (%d) still unsettled after draining", audit.Unsettled, audit.InFlight)
	}
	if audit.StandIn.Pending > 0 {
		pending("audit: %d stand-in answers card-api gave still not settled after draining", audit.StandIn.Pending)
	}
	for _, m := range projectionMismatches {
		pending("balance service: %s", m)
	}
	checked := 0
	missing := map[string]int{} // acknowledged, not in the ledger at all: by journey
	answers := map[string]string{}
	keys := make([]string, 0)
	for _, o := range ops {
		if o.Key == "" || (o.Journey != "card-auth" && o.Journey != "payments") {
			continue
		}
		ref, ok := audit.Refs[o.Key]
		checked++
		switch {
		case o.Outcome == history.OK && (o.Result == "00" || o.Result == "approved"):
			if !ok || ref.Debits == 0 {
				missing[o.Journey]++
			}
			if !ok || !(ref.Debits == 1 || ref.Debits == 2 && ref.StandIn) || ref.Net != -o.Amount {
				bad("%s %s approved for %d but the ledger has %d debits, net %d", o.Journey, o.Key, o.Amount, ref.Debits, ref.Net)
			}
		case o.Outcome == history.OK && o.Journey == "card-auth" && ref.Net != 0:
			// Declined by card-api standing in, which voids the
			// authorisation in case an earlier attempt applied: its
			// reversal is deferred work.
			pending("%s %s declined (%s) but moved %d", o.Journey, o.Key, o.Result, ref.Net)
		case o.Outcome == history.OK: // declined for a business reason
			if ref.Net != 0 || ref.Debits != 0 && o.Journey != "card-auth" {
				bad("%s %s declined (%s) but the ledger has %d debits", o.Journey, o.Key, o.Result, ref.Debits)
			}
		case o.Outcome == history.Fail && o.Journey == "card-auth" && ref.Net != 0:
			// card-api queued a void before it declined: its reversal is
			// deferred work.
			pending("%s %s failed (%d %s) but moved %d", o.Journey, o.Key, o.Status, o.Result, ref.Net)
		case o.Outcome == history.Fail:
			if ref.Net != 0 {
				bad("%s %s failed (%d %s) but moved %d", o.Journey, o.Key, o.Status, o.Result, ref.Net)
			}
		default: // unknown: at most once, which the audit checks
			if ref.Debits > 1 {
				bad("%s %s (unknown outcome) applied %d times", o.Journey, o.Key, ref.Debits)
			}
		}
		if o.Outcome == history.OK {
			if prev, seen := answers[o.Key]; seen && prev != o.Result {
				bad("%s %s answered %s and later %s", o.Journey, o.Key, prev, o.Result)
			}
			if _, seen := answers[o.Key]; !seen {
				keys = append(keys, o.Key)
			}
			answers[o.Key] = o.Result
		}
	}
	r.Summary = fmt.Sprintf("audit of %d entries over %d accounts: total %d = opening %d + external %d - in flight %d; %d ops checked against the ledger",
		audit.Entries, audit.Accounts, audit.Total, audit.Opening, audit.External, audit.InFlight, checked)
	if n := missing["card-auth"] + missing["payments"]; n > 0 {
		// The count a lost acknowledged write shows as (a store that
		// lost power, say), first in the summary.
		r.Summary = fmt.Sprintf("%d acknowledged writes missing from the ledger (%d card authorisations, %d payments); ", n, missing["card-auth"], missing["payments"]) + r.Summary
	}
	if len(projectionMismatches) > 0 {
		r.Summary += fmt.Sprintf("; %d balances disagree with the ledger", len(projectionMismatches))
	}
	r.Verdict, r.Summary, r.Examples = judgeDeferred(violations, late, catchingUp, "money invariant violated; ", r.Summary)
	return r
}

// judgeDeferred is the one rule for findings that deferred work may still
// clear (late) next to those it cannot (violations): any violation is
// invalid; late findings are invalid once the bank has stopped catching
// up, and unknown while it still was when the wait for it ended.
func judgeDeferred(violations, late []string, catchingUp bool, invalidPrefix, summary string) (Verdict, string, []string) {
	sort.Strings(violations)
	sort.Strings(late)
	switch {
	case len(violations) > 0:
		return Invalid, invalidPrefix + summary, firstExamples(append(violations, late...))
	case len(late) > 0 && catchingUp:
		return Unknown, fmt.Sprintf("the bank was still catching up on deferred work when the wait for it ended: %d findings may yet clear (first: %s); %s",
			len(late), late[0], summary), firstExamples(late)
	case len(late) > 0:
		return Invalid, invalidPrefix + fmt.Sprintf("%d left after the bank stopped catching up; ", len(late)) + summary, firstExamples(late)
	}
	return Valid, summary, nil
}

func firstExamples(s []string) []string { return s[:min(len(s), MaxExamples)] }
