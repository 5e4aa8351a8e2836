package check_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/system/transactions"
)

// TestStandInExposureHoldsTheOverdraftToTheCaps: an account below its
// limit by stand-in is the bank's promise kept up to card-api's caps times
// its replicas, and broken past them.
func TestStandInExposureHoldsTheOverdraftToTheCaps(t *testing.T) {
	audit := func(overdrawn int64) transactions.Audit {
		a := transactions.Audit{OK: true}
		a.StandIn = transactions.StandInSummary{Posted: 12, PostedAmount: 450_00, BelowLimit: 2, Overdrawn: overdrawn}
		return a
	}
	for name, tc := range map[string]struct {
		overdrawn, bound int64
		want             check.Verdict
		says             string
	}{
		"none below a limit":        {0, 600_00, check.Valid, "at most £0.00 below (bound £600.00)"},
		"below, within the caps":    {32_06, 600_00, check.Valid, "at most £32.06 below"},
		"at the bound":              {600_00, 600_00, check.Valid, "at most £600.00 below"},
		"beyond the caps":           {600_01, 600_00, check.Invalid, "£600.01 below its limit, beyond the £600.00"},
		"below, bound unknown":      {5_00, 0, check.Unknown, "bound on it is not known"},
		"none below, bound unknown": {0, 0, check.Valid, "12 stand-in approvals posted (£450.00)"},
	} {
		t.Run(name, func(t *testing.T) {
			r := check.StandInExposure(audit(tc.overdrawn), tc.bound)
			assert.Equal(t, tc.want, r.Verdict, r.Summary)
			assert.Contains(t, r.Summary, tc.says)
		})
	}
}
