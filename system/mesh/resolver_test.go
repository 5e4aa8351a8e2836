package mesh

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDNSResolverNeverHoldsACallForDNS: once it has an answer, a resolver
// whose DNS server hangs serves the last answer at once, refreshes in the
// background, and keeps the last answer when the refresh fails.
func TestDNSResolverNeverHoldsACallForDNS(t *testing.T) {
	var hang atomic.Bool
	var lookups atomic.Int32
	d := &DNSResolver{Host: "balance", Port: "8080", TTL: 10 * time.Millisecond,
		lookupHost: func(ctx context.Context, host string) ([]string, error) {
			lookups.Add(1)
			if hang.Load() {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return []string{"10.0.0.1", "10.0.0.2"}, nil
		}}
	eps, err := d.Resolve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"10.0.0.1:8080", "10.0.0.2:8080"}, eps)

	hang.Store(true)
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	for range 100 {
		eps, err = d.Resolve(context.Background())
		require.NoError(t, err)
	}
	assert.Less(t, time.Since(start), 100*time.Millisecond, "calls served the last answer while DNS hung")
	assert.Equal(t, []string{"10.0.0.1:8080", "10.0.0.2:8080"}, eps)
	require.Eventually(t, func() bool { return lookups.Load() == 2 }, time.Second, 5*time.Millisecond, "a refresh started")
	_, _ = d.Resolve(context.Background())
	assert.Equal(t, int32(2), lookups.Load(), "one refresh in flight at a time")
	require.Eventually(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return !d.refreshing
	}, 3*LookupTimeout, 10*time.Millisecond, "the hung refresh gives up after LookupTimeout")
	eps, err = d.Resolve(context.Background())
	require.NoError(t, err)
	assert.Len(t, eps, 2, "a failed refresh keeps the last answer")
}

func TestDNSResolverFirstLookupFails(t *testing.T) {
	d := &DNSResolver{Host: "nowhere", Port: "1", lookupHost: func(context.Context, string) ([]string, error) {
		return nil, errors.New("no such host")
	}}
	_, err := d.Resolve(context.Background())
	require.ErrorContains(t, err, "resolve nowhere: no such host")
}
