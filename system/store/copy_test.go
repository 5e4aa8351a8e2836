package store_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/store/storetest"
)

// A copy follows its bucket through puts, updates and deletes, and keeps
// what it holds when the store goes away.
func TestCopyFollowsItsBucketAndOutlivesTheStore(t *testing.T) {
	ns, js := storetest.Node(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "things"})
	require.NoError(t, err)
	require.NoError(t, store.PutJSON(ctx, kv, "a", 1))
	require.NoError(t, store.PutJSON(ctx, kv, "junk", "not a number"))

	c := store.NewCopy[int]()
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	go c.Keep(kctx, kv, slog.New(slog.DiscardHandler))

	has := func(key string, want int) func() bool {
		return func() bool { v, ok := c.Get(key); return ok && v == want }
	}
	require.Eventually(t, has("a", 1), 5*time.Second, 10*time.Millisecond, "an initial value")
	require.NoError(t, store.PutJSON(ctx, kv, "a", 2))
	require.NoError(t, store.PutJSON(ctx, kv, "b", 3))
	require.Eventually(t, has("a", 2), 5*time.Second, 10*time.Millisecond, "an update")
	require.Eventually(t, has("b", 3), 5*time.Second, 10*time.Millisecond, "a new key")
	require.NoError(t, kv.Delete(ctx, "b"))
	require.Eventually(t, func() bool { _, ok := c.Get("b"); return !ok }, 5*time.Second, 10*time.Millisecond, "a delete")
	_, ok := c.Get("junk")
	require.False(t, ok, "a value that does not decode is skipped")

	ns.Shutdown()
	time.Sleep(200 * time.Millisecond)
	v, ok := c.Get("a")
	require.True(t, ok)
	require.Equal(t, 2, v, "the copy holds its last value while the store is gone")
}
