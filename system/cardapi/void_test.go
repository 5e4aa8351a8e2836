package cardapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/mesh"
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

// The void worker claims the answer before it reverses anything: once it
// holds the decline, an attempt at the same message that is approved later
// gets the decline that stands, never an approval the void then reverses.
// (A plain read let a lagging store replica say "no answer" for an
// approval the network had: two approvals reversed under store node kills.)
func TestVoidClaimsTheAnswerBeforeReversing(t *testing.T) {
	kv, _ := answersBucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	voids := 0
	cp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/void" {
			voids++
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer cp.Close()
	m := mesh.NewMetrics("card-api")
	s := &service{p: &process.Process{Log: slog.New(slog.DiscardHandler), Metrics: m}, answers: kv, admit: newAdmission(),
		cp: mesh.NewClient("card-processing", mesh.StaticResolver{strings.TrimPrefix(cp.URL, "http://")}, m)}

	void, _ := json.Marshal(cardprocessing.Void{MessageID: "m2"})
	require.NoError(t, s.processVoid(ctx, voidMsg{data: void}))
	assert.Equal(t, 1, voids, "the void was sent to card-processing")

	standing, err := s.record(ctx, cardprocessing.AuthResponse{MessageID: "m2", Code: "00", Approved: true})
	require.NoError(t, err)
	assert.False(t, standing.Approved, "a later approval must give way to the void's decline")
	assert.Equal(t, "91", standing.Code)
}

// An answer is given only once it is recorded, an approval or a decline:
// a decline whose record failed may not be the answer that stands (an
// earlier attempt's approval can be in the store, and its void is then
// skipped). Once the store records it, the decline is given.
func TestAnswerIsNotGivenUnrecorded(t *testing.T) {
	kv, ns := answersBucket(t)
	s := &service{p: &process.Process{Log: slog.New(slog.DiscardHandler)}, answers: kv}
	ctx := context.Background()

	w := httptest.NewRecorder()
	s.answer(ctx, w, cardprocessing.AuthRequest{MessageID: "m5"}, cardprocessing.AuthResponse{MessageID: "m5", Code: "91", Reason: "issuer unavailable"})
	assert.Equal(t, http.StatusOK, w.Code, "a decline the store recorded")
	assert.Contains(t, w.Body.String(), `"91"`)

	ns.Shutdown()
	ns.WaitForShutdown()
	w = httptest.NewRecorder()
	s.answer(ctx, w, cardprocessing.AuthRequest{MessageID: "m3"}, cardprocessing.AuthResponse{MessageID: "m3", Code: "00", Approved: true})
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "an approval the store did not record: %s", w.Body)

	w = httptest.NewRecorder()
	s.answer(ctx, w, cardprocessing.AuthRequest{MessageID: "m4"}, cardprocessing.AuthResponse{MessageID: "m4", Code: "91", Reason: "issuer unavailable"})
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "a decline the store did not record: %s", w.Body)
}

// A decline that finds an approval standing gives the approval: the
// network's answer is the one the ledger and the void worker go by.
func TestDeclineGivesWayToTheStandingApproval(t *testing.T) {
	kv, _ := answersBucket(t)
	s := &service{p: &process.Process{Log: slog.New(slog.DiscardHandler)}, answers: kv}
	ctx := context.Background()
	approved, _ := json.Marshal(cardprocessing.AuthResponse{MessageID: "m6", Code: "00", Approved: true})
	_, err := kv.Create(ctx, "m6", approved)
	require.NoError(t, err)

	w := httptest.NewRecorder()
	s.answer(ctx, w, cardprocessing.AuthRequest{MessageID: "m6"}, cardprocessing.AuthResponse{MessageID: "m6", Code: "91", Reason: "issuer unavailable"})
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), `"00"`)
}
