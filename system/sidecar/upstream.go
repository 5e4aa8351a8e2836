package sidecar

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// How the sidecar reaches a callee. A callee's name is resolved in the
// background and its last answer kept, as a mesh proxy keeps a cluster's
// last known hosts: a lookup that hangs (a DNS replica on a lost node
// answers nothing, and half of the queries go to it) never holds a
// connection and never forgets where the callee was. An answer that the
// name has no address (the pod is not ready) is kept as well, and fails
// connections at once: after a lost node boots, its pods' old addresses
// lead nowhere, and a dial to one would hang.
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
	literal    bool // host is an address: never looked up
	resolver   resolver
	dialer     dialer

	mu         sync.Mutex
	answered   bool      // a lookup has answered (addresses, or none)
	addrs      []string  // last answer for host; none while it has none
	gone       error     // why addrs is empty: the name has no address
	fresh      time.Time // when the answer came; zero once a dial to it failed
	refreshing bool
}

func newUpstream(hostport string) (*upstream, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	u := &upstream{host: host, port: port, resolver: net.DefaultResolver, dialer: &net.Dialer{KeepAlive: 15 * time.Second}}
	if net.ParseIP(host) != nil {
		u.literal, u.answered, u.addrs = true, true, []string{host}
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
	if err != nil && !u.literal {
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
// background when it is old), or, before any answer, a lookup now. When
// the last answer was that the name has no address (a pod that is not
// ready has no DNS record), the dial fails at once.
func (u *upstream) address(ctx context.Context) (string, error) {
	u.mu.Lock()
	if !u.answered {
		u.mu.Unlock()
		if err := u.lookup(ctx); err != nil {
			return "", err
		}
		u.mu.Lock()
	}
	defer u.mu.Unlock()
	if !u.literal && time.Since(u.fresh) > refreshAfter && !u.refreshing {
		u.refreshing = true
		go u.refresh()
	}
	if len(u.addrs) == 0 {
		return "", u.gone
	}
	return u.addrs[0], nil
}

func (u *upstream) refresh() {
	_ = u.lookup(context.Background())
	u.mu.Lock()
	u.refreshing = false
	u.mu.Unlock()
}

// lookup asks for host's addresses and keeps the answer. An answer that
// the name has none is kept too: a pod that is not ready, or one gone, is
// not dialed. A lookup that fails otherwise (no answer in time) keeps the
// last answer.
func (u *upstream) lookup(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := u.resolver.LookupHost(lctx, u.host)
	var dnsErr *net.DNSError
	if err == nil && len(addrs) == 0 {
		err = &net.DNSError{Err: "no addresses", Name: u.host, IsNotFound: true}
	}
	if err != nil && !(errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
		return err
	}
	u.mu.Lock()
	u.answered, u.addrs, u.gone, u.fresh = true, addrs, err, time.Now()
	u.mu.Unlock()
	return err
}
