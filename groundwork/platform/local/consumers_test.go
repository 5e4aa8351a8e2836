package local

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/store/storetest"
)

// TestConsumerBacklogCountsUnacknowledgedWork: a real store node holds 5
// messages for a consumer that has taken 2 and acknowledged neither; its
// monitoring, read as the platform reads it, says 5 are left (3 pending,
// 2 unacknowledged), then 3 once the two are acknowledged.
func TestConsumerBacklogCountsUnacknowledgedWork(t *testing.T) {
	ns, js := storetest.Node(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WORK", Subjects: []string{"work.>"}})
	require.NoError(t, err)
	cons, err := js.CreateOrUpdateConsumer(ctx, "WORK", jetstream.ConsumerConfig{Durable: "workers", AckPolicy: jetstream.AckExplicitPolicy})
	require.NoError(t, err)
	for i := range 5 {
		_, err := js.Publish(ctx, fmt.Sprintf("work.%d", i), []byte("x"))
		require.NoError(t, err)
	}
	batch, err := cons.Fetch(2)
	require.NoError(t, err)
	var taken []jetstream.Msg
	for m := range batch.Messages() {
		taken = append(taken, m)
	}
	require.Len(t, taken, 2)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j, err := ns.Jsz(&server.JSzOptions{Consumer: r.URL.Query().Get("consumers") == "true"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(j)
	}))
	defer srv.Close()
	urls := map[string]string{"store-0": srv.URL + "/jsz?consumers=true"}

	n, err := consumerBacklog(ctx, srv.Client(), urls, "workers")
	require.NoError(t, err)
	assert.Equal(t, 5, n, "3 never delivered and 2 delivered but unacknowledged")
	for _, m := range taken {
		require.NoError(t, m.DoubleAck(ctx))
	}
	n, err = consumerBacklog(ctx, srv.Client(), urls, "workers")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	_, err = consumerBacklog(ctx, srv.Client(), urls, "nobody")
	assert.ErrorContains(t, err, "no store node leads it")
}

// TestConsumerBacklogTakesTheLeadersFigures: in a cluster every replica
// of a consumer reports it, and only the leader's figures count.
func TestConsumerBacklogTakesTheLeadersFigures(t *testing.T) {
	body := func(leader string, pending int) string {
		return fmt.Sprintf(`{"account_details":[{"stream_detail":[{"name":"LEDGER","consumer_detail":[
			{"name":"enrichment","num_pending":%d,"num_ack_pending":1,"cluster":{"leader":%q}}]}]}]}`, pending, leader)
	}
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body("store-1", 40))) }))
	defer follower.Close()
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body("store-1", 0))) }))
	defer leader.Close()
	urls := map[string]string{"store-0": follower.URL, "store-1": leader.URL}
	for range 5 { // map order varies: the follower is sometimes asked first
		n, err := consumerBacklog(context.Background(), http.DefaultClient, urls, "enrichment")
		require.NoError(t, err)
		assert.Equal(t, 1, n)
	}
	urls = map[string]string{"store-0": follower.URL}
	_, err := consumerBacklog(context.Background(), http.DefaultClient, urls, "enrichment")
	assert.ErrorContains(t, err, "no store node leads it")
}
