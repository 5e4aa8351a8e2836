package cardapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/process"
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
	kv, ns := answersBucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	approved, _ := json.Marshal(cardprocessing.AuthResponse{MessageID: "m1", Code: "00", Approved: true})
	_, err := kv.Put(ctx, "m1", approved)
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
