package mesh_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/mesh"
)

// A starting process must not answer 404 for routes its setup has not
// registered yet: callers would take "no such card" as the real answer. While
// held, routes answer 503 (retriable, on another replica) and health
// endpoints still answer.
func TestHeldServerAnswersStarting(t *testing.T) {
	s := mesh.NewServer("cards", mesh.NewMetrics("cards"))
	s.Hold()
	starting := endpoint(t, s.ServeHTTP)
	ready := endpoint(t, func(w http.ResponseWriter, r *http.Request) { mesh.WriteJSON(w, 200, map[string]string{"id": "c1"}) })

	resp, err := http.Get("http://" + starting + "/v1/cards/c1")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "an unregistered route of a held server")
	resp, err = http.Get("http://" + starting + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "health endpoints answer while held")

	c := mesh.NewClient("cards", mesh.StaticResolver{starting, ready}, mesh.NewMetrics("test"), mesh.WithRetryBudget(mesh.NewRetryBudget(1, 1000)))
	for range 6 {
		var got map[string]string
		require.NoError(t, c.Do(context.Background(), mesh.Call{Method: "GET", Path: "/v1/cards/c1"}, &got), "a read retries on the replica that is up")
		assert.Equal(t, "c1", got["id"])
	}

	s.Handle("GET /v1/cards/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mesh.WriteJSON(w, 200, map[string]string{"id": r.PathValue("id")})
	}))
	s.Open()
	resp, err = http.Get("http://" + starting + "/v1/cards/c2")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "routes are served after Open")
}
