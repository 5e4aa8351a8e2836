package sidecar

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// echoServer is a real callee on loopback: it echoes what it reads.
func echoServer(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln
}

// echo writes msg on a new connection to addr and reads it back.
func echo(addr, msg string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	b := make([]byte, len(msg))
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	if string(b) != msg {
		return errors.New("echo: got " + string(b))
	}
	return nil
}

// heldDialer holds its first dial until release is closed (a callee on a
// lost node: the connection attempt neither succeeds nor fails) and dials
// for real after that.
type heldDialer struct {
	once    sync.Once
	held    chan struct{} // closed once the first dial is waiting
	release chan struct{}
}

func (d *heldDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	first := false
	d.once.Do(func() { first = true })
	if first {
		close(d.held)
		select {
		case <-d.release:
		case <-ctx.Done():
		}
		return nil, errors.New("held dial: no answer")
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// TestHungDialHoldsUpNoOtherConnection: while the dial for one caller
// connection hangs, the next connection through the same link's toxiproxy
// proxy reaches the callee. (Toxiproxy on its own dials inside its accept
// loop: the second connection would wait for the first dial.)
func TestHungDialHoldsUpNoOtherConnection(t *testing.T) {
	callee := echoServer(t)
	up, err := newUpstream(callee.Addr().String())
	require.NoError(t, err)
	d := &heldDialer{held: make(chan struct{}), release: make(chan struct{})}
	defer close(d.release)
	up.dialer = d

	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listen := freePort(t)
	fw, err := addLink(ctx, srv, "card-api-0->card-processing-0", listen, up)
	require.NoError(t, err)
	defer func() { _ = srv.Collection.Clear(); fw.Close() }()

	first, err := net.Dial("tcp", listen)
	require.NoError(t, err)
	defer first.Close()
	select {
	case <-d.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the first connection was never dialed")
	}
	require.NoError(t, echo(listen, "authorise"), "a second connection while the first one's dial hangs")
}

// staticResolver answers from a list it is given, one answer per lookup
// (the last one repeated), or blocks while block is set.
type staticResolver struct {
	mu      sync.Mutex
	answers [][]string
	errs    []error
	block   chan struct{} // when not nil, lookups wait for it
	lookups int
}

func (r *staticResolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	r.mu.Lock()
	i := min(r.lookups, len(r.answers)-1)
	r.lookups++
	block := r.block
	r.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return r.answers[i], r.errs[i]
}

func (r *staticResolver) count() int { r.mu.Lock(); defer r.mu.Unlock(); return r.lookups }

// TestLastAnswerOutlivesAFailedLookup: once a callee's name has been
// answered, a lookup that hangs or fails holds up no connection and the
// last answer is used.
func TestLastAnswerOutlivesAFailedLookup(t *testing.T) {
	callee := echoServer(t)
	_, port, _ := net.SplitHostPort(callee.Addr().String())
	up, err := newUpstream(net.JoinHostPort("card-processing-0.card-processing.bank.svc.cluster.local.", port))
	require.NoError(t, err)
	r := &staticResolver{answers: [][]string{{"127.0.0.1"}, nil}, errs: []error{nil, errors.New("i/o timeout")}}
	up.resolver = r

	c, err := up.Dial(context.Background())
	require.NoError(t, err, "first dial, after a lookup")
	c.Close()
	require.Equal(t, 1, r.count())

	// The answer is old and the DNS replica asked next answers nothing.
	block := make(chan struct{})
	defer close(block)
	r.mu.Lock()
	r.block = block
	r.mu.Unlock()
	up.mu.Lock()
	up.fresh = time.Now().Add(-time.Minute)
	up.mu.Unlock()
	for range 3 {
		c, err = up.Dial(context.Background())
		require.NoError(t, err, "dial with the last answer while a lookup hangs")
		c.Close()
	}
	require.Equal(t, 2, r.count(), "one lookup in the background, not one per connection")
}

// TestMovedCalleeIsLookedUpAgain: when a dial to the last answer fails (a
// pod made again has a new address), the name is looked up again and the
// connections after it reach the new address.
func TestMovedCalleeIsLookedUpAgain(t *testing.T) {
	callee := echoServer(t)
	_, port, _ := net.SplitHostPort(callee.Addr().String())
	// The old address: a loopback address nobody listens on at that port.
	up, err := newUpstream(net.JoinHostPort("feed-0.feed.bank.svc.cluster.local.", port))
	require.NoError(t, err)
	r := &staticResolver{answers: [][]string{{"127.0.0.2"}, {"127.0.0.1"}}, errs: []error{nil, nil}}
	up.resolver = r

	_, err = up.Dial(context.Background())
	require.Error(t, err, "nobody at the old address")
	require.Eventually(t, func() bool {
		c, err := up.Dial(context.Background())
		if err != nil {
			return false
		}
		c.Close()
		return true
	}, 10*time.Second, 10*time.Millisecond, "dials reach the new address")
	require.Equal(t, 2, r.count())
}

// TestCalleeWithNoAddressIsNotDialed: when the callee's name has no
// address any more (its pod is not ready: the headless service drops its
// record), connections fail at once instead of dialing the last address;
// once the name answers again they reach the callee.
func TestCalleeWithNoAddressIsNotDialed(t *testing.T) {
	callee := echoServer(t)
	_, port, _ := net.SplitHostPort(callee.Addr().String())
	up, err := newUpstream(net.JoinHostPort("cards-0.cards.bank.svc.cluster.local.", port))
	require.NoError(t, err)
	notFound := &net.DNSError{Err: "no such host", Name: up.host, IsNotFound: true}
	r := &staticResolver{answers: [][]string{{"127.0.0.1"}, nil, {"127.0.0.1"}}, errs: []error{nil, notFound, nil}}
	up.resolver = r
	c, err := up.Dial(context.Background())
	require.NoError(t, err)
	c.Close()

	up.mu.Lock()
	up.fresh = time.Now().Add(-time.Minute)
	up.mu.Unlock()
	require.Eventually(t, func() bool {
		c, err := up.Dial(context.Background())
		if err == nil {
			c.Close()
		}
		return errors.Is(err, notFound)
	}, 10*time.Second, 10*time.Millisecond, "no dial once the name has no address")
	require.Eventually(t, func() bool {
		c, err := up.Dial(context.Background())
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "dials again once the name answers")
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}
