package cardapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// voidMsg is a queued void as the void worker receives it.
type voidMsg struct {
	jetstream.Msg
	data []byte
}

func (m voidMsg) Data() []byte { return m.data }

// A void whose message's answer cannot be read must wait: voiding then
// could reverse an approval the network already has. The worker must not
// reach card-processing (this service has no client for it: a call would
// panic) and must return an error, so that the void is delivered again.
func TestVoidWaitsWhenTheAnswerCannotBeRead(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: store.BucketAnswers, History: 1})
	require.NoError(t, err)
	approved, _ := json.Marshal(cardprocessing.AuthResponse{MessageID: "m1", Code: "00", Approved: true})
	_, err = kv.Put(ctx, "m1", approved)
	require.NoError(t, err)

	s := &service{p: &process.Process{Log: slog.New(slog.DiscardHandler)}, answers: kv}
	void, _ := json.Marshal(cardprocessing.Void{MessageID: "m1"})
	// The store answers: the approval stands and the void is skipped.
	assert.NoError(t, s.processVoid(ctx, voidMsg{data: void}))

	// The store is gone: the worker cannot tell, so it waits.
	ns.Shutdown()
	ns.WaitForShutdown()
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
	defer rcancel()
	var verr error
	assert.NotPanics(t, func() { verr = s.processVoid(rctx, voidMsg{data: void}) }, "the void went on to card-processing")
	assert.Error(t, verr)
}
