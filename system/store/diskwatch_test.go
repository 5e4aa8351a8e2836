package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/faultfs"
	"github.com/faultline/faultline/system/store"
)

// TestANodeThatCannotWriteStops: a store node whose disk fails a write
// (EIO) stops the stream (NATS's critical write error), and one whose
// disk is full (ENOSPC) turns JetStream off; either would stay so after
// the disk recovers. The node exits with the reason instead, so that its
// platform starts it again. A healthy node runs on.
func TestANodeThatCannotWriteStops(t *testing.T) {
	for _, e := range []syscall.Errno{syscall.EIO, syscall.ENOSPC} {
		t.Run(e.Error(), func(t *testing.T) { nodeStopsOn(t, e) })
	}
}

func nodeStopsOn(t *testing.T, e syscall.Errno) {
	if err := faultfs.Available(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	disk, err := faultfs.Mount(filepath.Join(dir, "disk"), filepath.Join(dir, "data"))
	require.NoError(t, err)
	defer func() { assert.NoError(t, disk.Unmount()) }()
	client := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- store.RunNode(ctx, store.NodeConfig{Name: "store-0", Host: "127.0.0.1", ClientPort: client,
			Dir: disk.Mountpoint}, slog.New(slog.DiscardHandler))
	}()
	var nc *nats.Conn
	require.Eventually(t, func() bool {
		nc, err = nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", client), nats.NoReconnect())
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "s.1", []byte("written"))
	require.NoError(t, err)
	select {
	case err := <-done:
		t.Fatalf("a healthy node stopped: %v", err)
	case <-time.After(5 * time.Second):
	}

	disk.Set(faultfs.Faults{WriteErr: e, SyncErr: e})
	_, err = js.Publish(ctx, "s.2", []byte("lost"))
	assert.Error(t, err, "a write the disk fails is not acknowledged")
	disk.Set(faultfs.Faults{})
	select {
	case err := <-done:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "store health")
	case <-time.After(15 * time.Second):
		t.Fatal("the node that could not write runs on")
	}
}
