package harness

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/groundwork/check"
)

// TestCatchUpOfAScenarioThatBeganBehindIsUnknown: a scenario that began
// with deferred work an earlier one left (a sweep that ended behind) cannot
// say its own faults left a backlog: a failed catch-up is unknown, with
// what was inherited and what was read. Begun level, it stands as read;
// a pass stands either way.
func TestCatchUpOfAScenarioThatBeganBehindIsUnknown(t *testing.T) {
	behind := &Inspect{inherited: "after waiting 1m20s for deferred work left from before: consumer feed-generator of feed-generator has 13092 messages left"}
	level := &Inspect{}
	failed := check.Result{Check: "feed-generator-caught-up", Verdict: check.Invalid, Summary: "deferred work did not catch up within 30s"}
	passed := check.Result{Check: "feed-generator-caught-up", Verdict: check.Valid, Summary: "caught up"}

	got := behind.unlessInherited(failed)
	assert.Equal(t, check.Unknown, got.Verdict)
	assert.Contains(t, got.Summary, "13092 messages left")
	assert.Contains(t, got.Summary, failed.Summary, "what the check read is kept")
	assert.Equal(t, failed, level.unlessInherited(failed))
	assert.Equal(t, passed, behind.unlessInherited(passed))
}
