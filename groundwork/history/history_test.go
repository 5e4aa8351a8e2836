package history

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecentReturnsTheTail: Recent gives the scenario's ops that ended at
// or after since, the same as filtering Ops, even when ops were appended a
// little out of the order of their ends.
func TestRecentReturnsTheTail(t *testing.T) {
	h, err := New("")
	require.NoError(t, err)
	for i := range 100 {
		at := time.Duration(i) * 100 * time.Millisecond
		if i%10 == 3 {
			at -= 300 * time.Millisecond // added late
		}
		h.AddOp(Op{Scenario: []string{"a", "b"}[i%2], Start: at, Latency: 50 * time.Millisecond})
	}
	for _, since := range []time.Duration{0, 2 * time.Second, 7*time.Second + 20*time.Millisecond, 20 * time.Second} {
		var want []Op
		for _, o := range h.Ops("a") {
			if o.End() >= since {
				want = append(want, o)
			}
		}
		assert.Equal(t, want, h.Recent("a", since), "since %v", since)
	}
}
