package check

import (
	"fmt"

	"github.com/faultline/faultline/system/transactions"
)

// StandInExposure holds what card-api approved alone (stand-in) to its
// promise: no account went further below its limit than bound, in pence
// (card-api's per-account cap times its replicas, each of which caps its
// own approvals). Only a stand-in posting may take an account below its
// limit (the audit finds any other), so audit.StandIn.Overdrawn is the
// exposure the ledger took. Unknown when the bound is not known (zero)
// and an account did go below its limit.
func StandInExposure(audit transactions.Audit, bound int64) Result {
	si := audit.StandIn
	r := Result{Check: "stand-in", Verdict: Valid,
		Summary: fmt.Sprintf("%d stand-in approvals posted (%s); %d below a limit, at most %s below (bound %s)",
			si.Posted, pounds(si.PostedAmount), si.BelowLimit, pounds(si.Overdrawn), pounds(bound))}
	switch {
	case si.Overdrawn > 0 && bound <= 0:
		r.Verdict = Unknown
		r.Summary = fmt.Sprintf("an account went %s below its limit by stand-in, and the bound on it is not known", pounds(si.Overdrawn))
	case si.Overdrawn > bound:
		r.Verdict = Invalid
		r.Summary = fmt.Sprintf("stand-in took an account %s below its limit, beyond the %s card-api's caps allow; %s",
			pounds(si.Overdrawn), pounds(bound), r.Summary)
	}
	return r
}

// pounds writes pence as pounds.
func pounds(pence int64) string {
	sign := ""
	if pence < 0 {
		sign, pence = "-", -pence
	}
	return fmt.Sprintf("%s£%d.%02d", sign, pence/100, pence%100)
}
