package process

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/store/storetest"
)

// TestServeKVAnswersFromTheCopyWhileTheBucketIsSilent: with a copy, a
// read the bucket leaves unanswered is answered from the copy within
// copyAfter, long before the caller's deadline; a key the bucket says is
// missing is a 404 from the bucket; a key the copy does not hold, and any
// key without a copy, waits for the bucket until the deadline.
func TestServeKVAnswersFromTheCopyWhileTheBucketIsSilent(t *testing.T) {
	t.Setenv("BANK_STORE_REPLICAS", "1")
	_, js := storetest.Node(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "merchants"})
	require.NoError(t, err)
	require.NoError(t, store.PutJSON(ctx, kv, "m001", map[string]string{"id": "m001", "name": "Tesco"}))
	held := store.NewCopy[json.RawMessage]()
	go held.Keep(ctx, kv, slog.New(slog.DiscardHandler))
	require.Eventually(t, func() bool { _, ok := held.Get("m001"); return ok }, 5*time.Second, 10*time.Millisecond)
	bucket := &storetest.Silenceable{KeyValue: kv}
	valid := func(string) bool { return true }

	get := func(h mesh.Handler, id string) (*httptest.ResponseRecorder, time.Duration, error) {
		r := httptest.NewRequest(http.MethodGet, "/v1/merchants/"+id, nil)
		r.SetPathValue("id", id)
		rctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		w := httptest.NewRecorder()
		start := time.Now()
		err := h(w, r.WithContext(rctx))
		return w, time.Since(start), err
	}
	withCopy := ServeKV(bucket, held, "merchant", valid)

	_, _, err = get(withCopy, "m002")
	var me *mesh.Error
	require.ErrorAs(t, err, &me, "the bucket answers: m002 is missing")
	require.Equal(t, http.StatusNotFound, me.Status)

	bucket.Silent.Store(true)
	w, took, err := get(withCopy, "m001")
	require.NoError(t, err)
	require.Less(t, took, 800*time.Millisecond, "answered from the copy, not at the deadline")
	require.JSONEq(t, `{"id":"m001","name":"Tesco"}`, w.Body.String())

	_, took, err = get(withCopy, "m003")
	require.Error(t, err, "not in the copy: the bucket is waited for")
	require.GreaterOrEqual(t, took, 900*time.Millisecond)

	_, took, err = get(ServeKV(bucket, nil, "merchant", valid), "m001")
	require.Error(t, err, "without a copy a silent bucket has no answer")
	require.GreaterOrEqual(t, took, 900*time.Millisecond)
}
