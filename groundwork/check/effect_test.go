package check

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/groundwork/history"
)

// window makes a journey's stats from n requests a second over d: the
// first failed of them fail, and every one takes lat.
func window(n int, d time.Duration, failed int, lat time.Duration) Stats {
	var ops []history.Op
	total := int(float64(n) * d.Seconds())
	for i := range total {
		o := history.Op{Journey: "j", Start: time.Duration(i) * d / time.Duration(total), Latency: lat, Outcome: history.OK}
		if i < failed {
			o.Outcome = history.Fail
		}
		ops = append(ops, o)
	}
	return Compute(ops, "j", Window{From: 0, To: d})
}

func TestClassifyGradesByThresholds(t *testing.T) {
	th := DefaultThresholds
	base := window(30, 3*time.Second, 0, 20*time.Millisecond)
	for _, c := range []struct {
		name   string
		during Stats
		want   Effect
	}{
		{"the same", window(30, 5*time.Second, 0, 22*time.Millisecond), Unaffected},
		{"one failure in 150 is chance", window(30, 5*time.Second, 1, 20*time.Millisecond), Unaffected},
		{"ten failures in 150", window(30, 5*time.Second, 10, 20*time.Millisecond), Degraded},
		{"a p99 100 ms slower than twice the baseline's", window(30, 5*time.Second, 0, 150*time.Millisecond), Degraded},
		{"slower but within the margin", window(30, 5*time.Second, 0, 90*time.Millisecond), Unaffected},
		{"most failing", window(30, 5*time.Second, 100, 20*time.Millisecond), Broken},
		{"every answer slower than 2 s", window(30, 5*time.Second, 0, 3*time.Second), Broken},
		{"too few requests", window(1, 5*time.Second, 5, 20*time.Millisecond), NotJudged},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, why := th.Classify(base, c.during)
			assert.Equal(t, c.want, got, why)
		})
	}
}

func TestThresholdsValidate(t *testing.T) {
	assert.NoError(t, DefaultThresholds.Validate())
	bad := DefaultThresholds
	bad.DegradedDrop, bad.MinOps = 0, 0
	err := bad.Validate()
	assert.ErrorContains(t, err, "degraded drop")
	assert.ErrorContains(t, err, "min ops")
}
