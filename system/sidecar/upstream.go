package sidecar

import (
	"context"
	"net"
	"sync"
	"time"
)

// How the sidecar reaches a callee. A callee's name is resolved in the
// background and its last answer kept, as a mesh proxy keeps a cluster's
// last known hosts: a lookup that hangs (a DNS replica on a lost node
// answers nothing, and half of the queries go to it) never holds a
// connection, and a failed lookup never forgets where the callee was.
const (
	// dialTimeout bounds one connection attempt to a callee. A pod on a
	// lost node is blackholed: without a bound the attempt waits out the
	// kernel's SYN retries, minutes.
	dialTimeout = time.Second
	// lookupTimeout bounds one lookup of a callee's name.
	lookupTimeout = 2 * time.Second
	// refreshAfter is how old an answer may be before a connection asks
	// for a new one (in the background, using the old one meanwhile).
	refreshAfter = 2 * time.Second
)

// resolver is the part of *net.Resolver an upstream uses.
type resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// dialer is the part of *net.Dialer an upstream uses.
type dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// upstream is a link's callee: a host (a pod's DNS name, or an address)
// and a port.
type upstream struct {
	host, port string
	resolver   resolver
	dialer     dialer

	mu         sync.Mutex
	addrs      []string  // last answer for host
	fresh      time.Time // when addrs came; zero once a dial to them failed
	refreshing bool
}

func newUpstream(hostport string) (*upstream, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	u := &upstream{host: host, port: port, resolver: net.DefaultResolver, dialer: &net.Dialer{KeepAlive: 15 * time.Second}}
	if net.ParseIP(host) != nil {
		u.addrs, u.fresh = []string{host}, time.Now()
	}
	return u, nil
}

// Dial connects to the callee within dialTimeout.
func (u *upstream) Dial(ctx context.Context) (net.Conn, error) {
	addr, err := u.address(ctx)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := u.dialer.DialContext(dctx, "tcp", net.JoinHostPort(addr, u.port))
	if err != nil && net.ParseIP(u.host) == nil {
		// The callee may have moved (a pod made again has a new address):
		// unless a new answer came meanwhile, the next connection asks.
		u.mu.Lock()
		if len(u.addrs) > 0 && u.addrs[0] == addr {
			u.fresh = time.Time{}
		}
		u.mu.Unlock()
	}
	return c, err
}

// address is where to dial: the last answer (asking for a new one in the
// background when it is old), or, before any answer, a lookup now.
func (u *upstream) address(ctx context.Context) (string, error) {
	u.mu.Lock()
	if len(u.addrs) > 0 {
		addr := u.addrs[0]
		if time.Since(u.fresh) > refreshAfter && !u.refreshing {
			u.refreshing = true
			go u.refresh()
		}
		u.mu.Unlock()
		return addr, nil
	}
	u.mu.Unlock()
	if err := u.lookup(ctx); err != nil {
		return "", err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.addrs[0], nil
}

func (u *upstream) refresh() {
	_ = u.lookup(context.Background())
	u.mu.Lock()
	u.refreshing = false
	u.mu.Unlock()
}

// lookup asks for host's addresses and keeps the answer; a failed lookup
// keeps the last one.
func (u *upstream) lookup(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := u.resolver.LookupHost(lctx, u.host)
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		return &net.DNSError{Err: "no addresses", Name: u.host, IsNotFound: true}
	}
	u.mu.Lock()
	u.addrs, u.fresh = addrs, time.Now()
	u.mu.Unlock()
	return nil
}
