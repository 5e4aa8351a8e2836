// Package storetest starts a store node in the test's own process, for
// unit tests of code that reads and writes the store.
package storetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// Node starts a one-node store (JetStream in a temporary folder) that is
// shut down when the test ends, and returns it with a JetStream context.
// The connection does not reconnect: a test that stops the node sees the
// store fail.
func Node(t testing.TB) (*server.Server, jetstream.JetStream) {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	require.True(t, ns.ReadyForConnections(10*time.Second), "store node not ready")
	nc, err := nats.Connect(ns.ClientURL(), nats.NoReconnect())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return ns, js
}

// Silenceable is a bucket whose reads go unanswered while Silent is set, as
// a bucket's do while its leader is lost (until the caller's deadline);
// otherwise, and for every other operation, it is the bucket.
type Silenceable struct {
	jetstream.KeyValue
	Silent atomic.Bool
}

// Get waits for ctx to end while the bucket is silent.
func (b *Silenceable) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	if b.Silent.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return b.KeyValue.Get(ctx, key)
}
