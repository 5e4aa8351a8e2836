package sidecar_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/sidecar"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// TestSidecarProxiesAndTakesToxics: a call through a link's port reaches
// its upstream, and a latency toxic added through the API, by the link's
// name, slows it.
func TestSidecarProxiesAndTakesToxics(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "pong") }))
	defer up.Close()
	api, listen := freeAddr(t), freeAddr(t)
	link, err := sidecar.ParseLink("cards-0->balance-1=" + listen + "=" + up.Listener.Addr().String())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sidecar.Run(ctx, api, []sidecar.Link{link}) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	get := func() (string, time.Duration) {
		t0 := time.Now()
		resp, err := http.Get("http://" + listen + "/")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), time.Since(t0)
	}
	var px *toxiclient.Proxy
	require.Eventually(t, func() bool {
		px, err = toxiclient.NewClient(api).Proxy("cards-0->balance-1")
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "the API names the link")
	body, _ := get()
	require.Equal(t, "pong", body)
	_, err = px.AddToxic("slow", "latency", "downstream", 1, toxiclient.Attributes{"latency": 300})
	require.NoError(t, err)
	body, took := get()
	require.Equal(t, "pong", body)
	require.GreaterOrEqual(t, took, 300*time.Millisecond)

	_, err = sidecar.ParseLink("no-equals")
	require.Error(t, err)
}
