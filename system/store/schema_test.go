package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/store/storetest"
)

// TestEnsureKVReadsFromTheLeader: a bucket created as NATS creates them
// (direct gets on) and one EnsureKV creates both end up with direct gets
// off, and binding again keeps them off.
func TestEnsureKVReadsFromTheLeader(t *testing.T) {
	t.Setenv("BANK_STORE_REPLICAS", "1")
	_, js := storetest.Node(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	_, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "before", History: 1})
	require.NoError(t, err)
	direct := func(bucket string) bool {
		st, err := js.Stream(ctx, "KV_"+bucket)
		require.NoError(t, err)
		return st.CachedInfo().Config.AllowDirect
	}
	require.True(t, direct("before"), "NATS creates a bucket with direct gets on")

	for _, bucket := range []string{"before", "fresh", "before", "fresh"} {
		kv, err := store.EnsureKV(ctx, js, bucket)
		require.NoError(t, err, bucket)
		assert.False(t, direct(bucket), "bucket %s allows direct gets", bucket)
		_, err = kv.Put(ctx, "k", []byte(bucket))
		require.NoError(t, err)
		e, err := kv.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, bucket, string(e.Value()))
	}
}
