package mesh

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdmissionRefusesBeyondItsLimit(t *testing.T) {
	a := NewAdmission(time.Second, 2, 3)
	var tickets []Ticket
	for range 3 {
		tk, ok := a.Admit()
		require.True(t, ok)
		tickets = append(tickets, tk)
	}
	_, ok := a.Admit()
	assert.False(t, ok, "a fourth call beyond the limit of 3")
	tickets[0].Done(false)
	_, ok = a.Admit()
	assert.True(t, ok, "a slot freed by a finished call")
}

func TestAdmissionLowersToWhatWasInFlightOnTimeouts(t *testing.T) {
	a := NewAdmission(50*time.Millisecond, 2, 64)
	var tickets []Ticket
	for range 20 {
		tk, ok := a.Admit()
		require.True(t, ok)
		tickets = append(tickets, tk)
	}
	tickets[0].Done(true)
	assert.Equal(t, 16, a.Limit(), "four fifths of the 20 in flight")
	tickets[1].Done(true)
	assert.Equal(t, 16, a.Limit(), "a second timeout within the cooldown counts as the same burst")
	time.Sleep(60 * time.Millisecond)
	tickets[2].Done(true)
	assert.Equal(t, 12, a.Limit(), "four fifths of min(limit 16, 18 in flight) = 12.8")
	b := NewAdmission(time.Nanosecond, 2, 64)
	for range 100 {
		tk, _ := b.Admit()
		tk.Done(true)
	}
	assert.Equal(t, 2, b.Limit(), "never below the minimum")
}

func TestAdmissionRaisesTheLimitWhenCallsAreFast(t *testing.T) {
	a := NewAdmission(time.Second, 2, 10)
	a.limit = 4
	for range 5 {
		tk, ok := a.Admit()
		require.True(t, ok)
		tk.Done(false)
	}
	assert.Equal(t, 5, a.Limit(), "about one more per limit's worth of fast calls")
	for range 200 {
		tk, _ := a.Admit()
		tk.Done(false)
	}
	assert.Equal(t, 10, a.Limit(), "never above the maximum")
}

func TestAdmissionBackgroundWorkWaitsForLiveCalls(t *testing.T) {
	a := NewAdmission(time.Second, 2, 4)
	t1, _ := a.Admit()
	assert.False(t, a.Busy(), "1 of 4 in flight")
	t2, _ := a.Admit()
	assert.True(t, a.Busy(), "half the limit in flight")
	start := time.Now()
	a.WaitQuiet(context.Background(), 100*time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond, "waits its patience out while busy")
	go func() { time.Sleep(30 * time.Millisecond); t1.Done(false) }()
	start = time.Now()
	a.WaitQuiet(context.Background(), 5*time.Second)
	assert.Less(t, time.Since(start), time.Second, "goes as soon as the live calls leave room")
	t2.Done(false)
}
