package sidecar_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
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

// hungCallee is a callee whose connection attempts neither succeed nor
// fail, as a pod's on a lost node: a loopback listener that never accepts,
// its accept queue full, so the kernel drops further SYNs.
func hungCallee(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr // the queue is full: this attempt hung
		}
		t.Cleanup(func() { c.Close() })
	}
}

// TestUnreachableCalleeHoldsUpNoCaller: through a link to a callee that
// cannot be reached, every caller connection is dropped within the
// sidecar's dial bound (1s) and the next one is taken at once. Toxiproxy
// alone dials in its accept loop with no bound: the first connection would
// hang for the kernel's SYN retries (over two minutes) and every one after
// it would wait in the queue.
func TestUnreachableCalleeHoldsUpNoCaller(t *testing.T) {
	api, listen := freeAddr(t), freeAddr(t)
	link, err := sidecar.ParseLink("card-api-0->card-processing-1=" + listen + "=" + hungCallee(t))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sidecar.Run(ctx, api, []sidecar.Link{link}) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	require.Eventually(t, func() bool {
		_, err := toxiclient.NewClient(api).Proxy("card-api-0->card-processing-1")
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "the API names the link")

	for i := range 3 {
		t0 := time.Now()
		c, err := net.Dial("tcp", listen)
		require.NoError(t, err)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "connection %d still held after 10s: %v", i, err)
		t.Logf("connection %d dropped after %v (%v)", i, time.Since(t0).Round(time.Millisecond), err)
	}
}
