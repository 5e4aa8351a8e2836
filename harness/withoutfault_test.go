package harness

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/result"
)

// TestCheckOfAFaultNeverInjectedIsUnknown: a scenario's own check (did the
// callers retry, did they eject) says nothing when its fault could not be
// injected on the platform, whatever it read: unknown, never invalid (on
// kube a kill is not injected, and no retries is then no finding), and not
// valid either. With every fault injected the check stands as it read.
func TestCheckOfAFaultNeverInjectedIsUnknown(t *testing.T) {
	miss := check.Result{Check: "retried-elsewhere", Verdict: check.Invalid, Summary: "retries rose by 0, fewer than 1"}
	hit := check.Result{Check: "retried-elsewhere", Verdict: check.Valid, Summary: "retries rose by 4"}
	notInjected := []result.Fault{{Name: "kill 1 of card-processing", Unsupported: true}}
	injected := []result.Fault{{Name: "kill 1 of card-processing"}}

	for _, r := range []check.Result{miss, hit} {
		got := withoutFault(r, notInjected)
		assert.Equal(t, check.Unknown, got.Verdict)
		assert.Contains(t, got.Summary, "kill 1 of card-processing was not injected")
		assert.Contains(t, got.Summary, r.Summary, "what the check read is kept")
		assert.Equal(t, r, withoutFault(r, injected))
	}
}
