package check

import (
	"fmt"
	"sort"

	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/system/transactions"
)

// Money checks the bank's money invariants: the ledger audit is clean (no
// money created or destroyed, no balance below its limit, no key applied
// twice, every transfer settled), every balance the balance service serves
// equals its ledger, and the history agrees with the ledger: an approved
// authorisation or payment is in the ledger exactly once with its amount, a
// declined or failed one moved no money, an unknown one moved it at most
// once.
func Money(ops []history.Op, audit transactions.Audit, projectionMismatches []string) Result {
	r := Result{Check: "money", Verdict: Valid}
	bad := func(format string, args ...any) {
		r.Verdict = Invalid
		if len(r.Examples) < MaxExamples {
			r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
		}
	}
	if !audit.OK {
		for _, p := range audit.Problems {
			bad("audit: %s", p)
		}
		if len(audit.Problems) == 0 {
			bad("audit not ok")
		}
	}
	if audit.Unsettled > 0 {
		bad("audit: %d transfers (%d) still unsettled after draining", audit.Unsettled, audit.InFlight)
	}
	for _, m := range projectionMismatches {
		bad("balance service: %s", m)
	}
	checked := 0
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
			if !ok || ref.Debits != 1 || ref.Net != -o.Amount {
				bad("%s %s approved for %d but the ledger has %d debits, net %d", o.Journey, o.Key, o.Amount, ref.Debits, ref.Net)
			}
		case o.Outcome == history.OK: // declined for a business reason
			if ref.Debits != 0 {
				bad("%s %s declined (%s) but the ledger has %d debits", o.Journey, o.Key, o.Result, ref.Debits)
			}
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
	sort.Strings(r.Examples)
	r.Summary = fmt.Sprintf("audit of %d entries over %d accounts: total %d = opening %d + external %d - in flight %d; %d ops checked against the ledger",
		audit.Entries, audit.Accounts, audit.Total, audit.Opening, audit.External, audit.InFlight, checked)
	if r.Verdict == Invalid {
		r.Summary = "money invariant violated; " + r.Summary
	}
	return r
}
