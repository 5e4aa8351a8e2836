package local

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStreamLeaderReadsTheStoresMonitoring: the leader is read from a
// node's /jsz?streams=true answer (the shape nats-server gives); a node
// that names none is an error, so that the next node is asked.
func TestStreamLeaderReadsTheStoresMonitoring(t *testing.T) {
	body := `{"server_id":"x","account_details":[{"name":"$G","stream_detail":[
		{"name":"BALANCES","cluster":{"leader":"store-0"}},
		{"name":"LEDGER","cluster":{"name":"bank","leader":"store-2","replicas":[{"name":"store-0"},{"name":"store-1"}]}}]}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/jsz", r.URL.Path)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	leader, err := streamLeader(context.Background(), srv.Client(), srv.URL+"/jsz?streams=true", "LEDGER")
	require.NoError(t, err)
	assert.Equal(t, "store-2", leader)
	_, err = streamLeader(context.Background(), srv.Client(), srv.URL+"/jsz?streams=true", "VOIDS")
	assert.Error(t, err)
}
