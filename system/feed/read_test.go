package feed

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/enrichment"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/store/storetest"
)

// TestFeedReadAnswersTheLastServedWhileTheStoreIsSilent: while the feed
// bucket does not answer, a customer's read is answered within readFeed
// with the feed last served to them, marked stale; a customer never
// served waits for the store, and has no answer by the deadline.
func TestFeedReadAnswersTheLastServedWhileTheStoreIsSilent(t *testing.T) {
	t.Setenv("BANK_STORE_REPLICAS", "1")
	_, js := storetest.Node(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "feed"})
	require.NoError(t, err)
	var f Feed
	f.Add(enrichment.Event{Key: "e1", Customer: "c00001", Amount: -450, Description: "Tesco"})
	require.NoError(t, store.PutJSON(ctx, kv, "c00001", f))
	require.NoError(t, store.PutJSON(ctx, kv, "c00002", f))
	bucket := &storetest.Silenceable{KeyValue: kv}
	s := &service{kv: bucket, served: map[string]Feed{}}

	got, err := s.read(ctx, "c00001")
	require.NoError(t, err)
	require.False(t, got.Stale)
	require.Len(t, got.Items, 1)

	bucket.Silent.Store(true)
	start := time.Now()
	got, err = s.read(ctx, "c00001")
	require.NoError(t, err)
	require.Less(t, time.Since(start), 2*readFeed)
	require.True(t, got.Stale)
	require.Equal(t, "e1", got.Items[0].Key)

	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	start = time.Now()
	_, err = s.read(dctx, "c00002")
	require.Error(t, err, "never served: nothing to answer with")
	require.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "it waited for the store")
}
