package balance

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Writers to one account take turns; writers to different accounts do not
// wait for each other.
func TestAccountQueueLetsOneWriterThroughPerAccount(t *testing.T) {
	var q accountQueue
	var inside [2]atomic.Int32
	var most [2]atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := i % 2
			done, err := q.wait(context.Background(), []string{"acc-a", "acc-b"}[a])
			require.NoError(t, err)
			n := inside[a].Add(1)
			for {
				m := most[a].Load()
				if n <= m || most[a].CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inside[a].Add(-1)
			done()
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), most[0].Load(), "two writers were inside account a at once")
	assert.Equal(t, int32(1), most[1].Load(), "two writers were inside account b at once")
	assert.Zero(t, q.queued(), "an account with no writers left is forgotten")

	// Another account's turn is free while one is held.
	done, err := q.wait(context.Background(), "acc-a")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	other, err := q.wait(ctx, "acc-b")
	require.NoError(t, err, "a write to another account waited for acc-a's turn")
	other()
	done()
}

// A writer whose caller gives up while it waits leaves the queue with an
// error, without ever taking the turn, and the next writer still gets it.
func TestAccountQueueWaiterLeavesWhenItsCallerGivesUp(t *testing.T) {
	var q accountQueue
	done, err := q.wait(context.Background(), "acc-a")
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = q.wait(ctx, "acc-a")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	done()
	assert.Zero(t, q.queued(), "the writer that gave up still counts as waiting")
	next, err := q.wait(context.Background(), "acc-a")
	require.NoError(t, err, "the turn was lost with the writer that gave up")
	next()
}
