package mesh_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/identity"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/topology"
)

// policy is the mesh description's, for one service.
type policy string

func (p policy) MayCall(caller, pattern string) error {
	return topology.MayCall(caller, string(p), pattern)
}
func (p policy) MayActFor(caller string, customer bool) error {
	return topology.MayActFor(caller, customer)
}

// serveTLS runs a balance server with the run's certificates and the mesh
// description's policy, and returns its address.
func serveTLS(t *testing.T, ca *identity.Authority) string {
	t.Helper()
	creds, err := ca.Issue("balance")
	require.NoError(t, err)
	cfg, err := creds.ServerConfig()
	require.NoError(t, err)
	s := mesh.NewServer("balance", mesh.NewMetrics("balance"), mesh.WithTLS(cfg, policy("balance")))
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { mesh.WriteJSON(w, 200, map[string]string{"ok": "yes"}) })
	s.Handle("POST /v1/reserve", ok)
	s.Handle("GET /v1/accounts/{id}/balance", ok)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func TestRoutesTakeOnlyTheCallersTheMeshDescriptionGrants(t *testing.T) {
	ca, err := identity.NewAuthority()
	require.NoError(t, err)
	addr := serveTLS(t, ca)
	call := func(name string, c mesh.Call) error {
		creds, err := ca.Issue(name)
		require.NoError(t, err)
		cfg, err := creds.ClientConfig("balance")
		require.NoError(t, err)
		cl := mesh.NewClient("balance", mesh.StaticResolver{addr}, mesh.NewMetrics(name), mesh.WithClientTLS(cfg), mesh.WithAttempts(1))
		c.Timeout = 2 * time.Second
		return cl.Do(context.Background(), c, nil)
	}
	reserve := mesh.Call{Method: "POST", Path: "/v1/reserve", Body: map[string]int{"amount": 1}, IdempotencyKey: "k1"}
	require.NoError(t, call("card-processing", reserve))
	require.NoError(t, call("payments", reserve))
	assertStatus(t, http.StatusForbidden, call("edge", reserve), "edge calls balance, but only to read")
	assertStatus(t, http.StatusForbidden, call("cards", reserve), "cards does not call balance")

	read := mesh.Call{Method: "GET", Path: "/v1/accounts/a1/balance"}
	assertStatus(t, http.StatusForbidden, call("edge", read), "edge must say which customer it calls for")
	read.Customer = "c1"
	require.NoError(t, call("edge", read))
	assertStatus(t, http.StatusForbidden, call("card-processing", read), "card-processing may not act for a customer")
	read.Customer = ""
	require.NoError(t, call(topology.Harness, read), "the harness reads")
	assertStatus(t, http.StatusForbidden, call(topology.Harness, reserve), "and never writes")

	// Outside the mesh: no certificate. Health answers (for the kubelet),
	// routes do not.
	out, err := identity.Outside(ca.CA())
	require.NoError(t, err)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: out}, Timeout: 2 * time.Second}
	resp, err := hc.Get("https://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = hc.Get("https://" + addr + "/v1/accounts/a1/balance")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// Plain HTTP to a TLS server gets nothing served.
	resp, err = http.Get("http://" + addr + "/v1/accounts/a1/balance")
	if err == nil {
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "Go's TLS server answers plain HTTP with 400")
	}
}

func assertStatus(t *testing.T, want int, err error, msg string) {
	t.Helper()
	var me *mesh.Error
	if assert.ErrorAs(t, err, &me, msg) {
		assert.Equal(t, want, me.Status, msg)
	}
}
