package reports

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
)

// The charts' percentiles are the checks' (nearest rank), so a chart never
// shows a different p99 from the table beside it for the same requests.
func TestChartPercentilesAreTheChecks(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 99, 101} {
		var ops []history.Op
		var lats []time.Duration
		for i := range n {
			d := time.Duration(n-i) * time.Millisecond
			ops = append(ops, history.Op{Journey: "balance", Start: time.Duration(i) * time.Microsecond, Latency: d, Outcome: history.OK})
			lats = append([]time.Duration{d}, lats...)
		}
		s := aggregate(ops, 0, time.Second)
		require.Len(t, s, 1)
		require.Len(t, s[0].Buckets, 1)
		b := s[0].Buckets[0]
		assert.Equal(t, check.Quantile(lats, 0.50), b.P50, "p50 of %d", n)
		assert.Equal(t, check.Quantile(lats, 0.99), b.P99, "p99 of %d", n)
	}
}
