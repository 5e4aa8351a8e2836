package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/faultfs"
	"github.com/faultline/faultline/system/store"
)

// cluster starts a three-node store in this process, each node's data on
// a plain directory or on a fault filesystem, and returns a JetStream
// context on node 0.
func cluster(b *testing.B, sync time.Duration, onFaultFS bool) jetstream.JetStream {
	b.Helper()
	const n = 3
	client, route := make([]int, n), make([]int, n)
	for i := range n {
		client[i], route[i] = freePort(b), freePort(b)
	}
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", route[i]))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, n)
	for i := range n {
		dir := b.TempDir()
		if onFaultFS {
			if err := faultfs.Available(); err != nil {
				b.Skip(err)
			}
			d, err := faultfs.Mount(filepath.Join(dir, "disk"), filepath.Join(dir, "data"))
			require.NoError(b, err)
			b.Cleanup(func() { _ = d.Unmount() })
			dir = d.Mountpoint
		}
		cfg := store.NodeConfig{Name: fmt.Sprintf("store-%d", i), Host: "127.0.0.1", ClientPort: client[i], ClusterPort: route[i],
			Routes: routes, Dir: dir, Sync: sync}
		go func() { done <- store.RunNode(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	}
	b.Cleanup(func() {
		cancel()
		for range n {
			<-done
		}
	})
	var nc *nats.Conn
	require.Eventually(b, func() bool {
		var err error
		nc, err = nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", client[0]))
		return err == nil
	}, 15*time.Second, 100*time.Millisecond)
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(b, err)
	require.Eventually(b, func() bool {
		_, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"}, Replicas: 3})
		return err == nil
	}, 30*time.Second, 250*time.Millisecond, "stream created")
	return js
}

// BenchmarkAcknowledgedWrite publishes 256-byte messages to a stream
// replicated three ways and waits for each acknowledgement, 8 at a time,
// under the bank's fsync policy (always) and NATS's default (every 2m), on
// plain directories and on the fault filesystem. docs/PERFORMANCE.md has
// the figures.
func BenchmarkAcknowledgedWrite(b *testing.B) {
	for _, sync := range []struct {
		name string
		d    time.Duration
	}{{"always", store.SyncAlways}, {"2m", 2 * time.Minute}} {
		for _, disk := range []string{"direct", "faultfs"} {
			b.Run(sync.name+"/"+disk, func(b *testing.B) {
				js := cluster(b, sync.d, disk == "faultfs")
				msg := make([]byte, 256)
				b.SetParallelism(4) // 8 publishers on 2 cores
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := js.Publish(context.Background(), "bench.x", msg); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
