package load

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPlannedSendTimes(t *testing.T) {
	// vegeta's constant pacer sends hit n at (n+1) intervals.
	constant := Plan{Journey: "card-auth", Rate: 50, Duration: 10 * time.Second}.pacer()
	assert.InDelta(t, float64(20*time.Millisecond), float64(planned(constant, 0, 10*time.Second)), float64(100*time.Microsecond))
	assert.InDelta(t, float64(2020*time.Millisecond), float64(planned(constant, 100, 10*time.Second)), float64(100*time.Microsecond))
	// A ramp from 10/s to 30/s over 10s sends its 200th hit at t where
	// 10t + t^2 = 200, t = 10s.
	ramp := Plan{Journey: "card-auth", Rate: 10, RampTo: 30, Duration: 10 * time.Second}.pacer()
	assert.InDelta(t, float64(10*time.Second), float64(planned(ramp, 199, 11*time.Second)), float64(60*time.Millisecond))
}
