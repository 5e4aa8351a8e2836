package process

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRedeliveryBacksOff(t *testing.T) {
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, w := range want {
		assert.Equal(t, w, redeliverAfter(uint64(i+1)), "after delivery %d", i+1)
	}
	assert.Equal(t, 8*time.Second, redeliverAfter(1000))
	assert.Equal(t, 500*time.Millisecond, redeliverAfter(0), "no count read: as a first delivery")
}
