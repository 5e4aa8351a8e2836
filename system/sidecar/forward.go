package sidecar

import (
	"context"
	"errors"
	"io"
	"net"
)

// A forwarder stands between a link's toxiproxy proxy and its callee.
//
// Toxiproxy dials a proxy's upstream inside its accept loop, with no time
// bound: while one dial hangs, the proxy accepts nobody. On Kubernetes a
// dial hangs whenever the callee's pod is on a lost node (its address is
// blackholed) or the name lookup went to a DNS replica there; every caller
// connection behind it then waits too, those to live callees included, and
// a queue of abandoned connections each costs a dial after the node is
// back. So each proxy's upstream is a forwarder on loopback, which
// toxiproxy reaches at once, and the forwarder dials the callee for each
// connection on its own, bounded (upstream.Dial), dropping the caller's
// connection when the callee cannot be reached.
type forwarder struct {
	ln net.Listener
	up *upstream
}

// listenForwarder starts a forwarder to up on a free loopback port.
func listenForwarder(ctx context.Context, up *upstream) (*forwarder, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln, up: up}
	go f.serve(ctx)
	return f, nil
}

// Addr is the loopback address the link's proxy dials.
func (f *forwarder) Addr() string { return f.ln.Addr().String() }

// Close stops accepting; each connection ends when toxiproxy closes its
// side.
func (f *forwarder) Close() error { return f.ln.Close() }

func (f *forwarder) serve(ctx context.Context) {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go f.forward(ctx, c)
	}
}

// forward dials the callee for c and copies both ways until either side
// ends; then both are closed (the links carry HTTP and the store's
// protocol, neither of which half-closes).
func (f *forwarder) forward(ctx context.Context, c net.Conn) {
	defer c.Close()
	u, err := f.up.Dial(ctx)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
	// Closing both (deferred) ends the other copy.
	c.Close()
	u.Close()
	<-done
}
