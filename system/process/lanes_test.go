package process

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/store/storetest"
)

// TestLanesKeepEachSubjectInOrder runs a deferred consumer in four lanes on
// a real store: every message is handled once, each subject's messages in
// the order they were published, and handlers that wait (as on the store)
// overlap.
func TestLanesKeepEachSubjectInOrder(t *testing.T) {
	t.Setenv("BANK_STORE_REPLICAS", "1")
	_, js := storetest.Node(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}})
	require.NoError(t, err)
	const subjects, each = 5, 40
	for i := range each {
		for s := range subjects {
			_, err := js.Publish(ctx, fmt.Sprintf("t.%d", s), []byte(fmt.Sprint(i)))
			require.NoError(t, err)
		}
	}
	p := &Process{JS: js, Metrics: mesh.NewMetrics("test"), Log: slog.New(slog.DiscardHandler)}
	p.Config.Service = "test"

	var mu sync.Mutex
	seen := map[string][]string{}
	var now, most, total atomic.Int64
	hctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.ConsumeDeferred(hctx, "T", "lanes", "", 4, func(ctx context.Context, m jetstream.Msg) error {
			n := now.Add(1)
			for {
				if m := most.Load(); n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Duration(1+rand.IntN(9)) * time.Millisecond) // a store round trip
			now.Add(-1)
			mu.Lock()
			seen[m.Subject()] = append(seen[m.Subject()], string(m.Data()))
			mu.Unlock()
			if total.Add(1) == subjects*each {
				stop()
			}
			return nil
		})
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("handled %d of %d messages in a minute", total.Load(), subjects*each)
	}
	require.Len(t, seen, subjects)
	for s, got := range seen {
		want := make([]string, each)
		for i := range want {
			want[i] = fmt.Sprint(i)
		}
		assert.Equal(t, want, got, "subject %s: each message once, in order", s)
	}
	assert.Greater(t, most.Load(), int64(1), "handlers in different lanes overlap")
	assert.LessOrEqual(t, most.Load(), int64(4), "no more handlers at once than lanes")
}
