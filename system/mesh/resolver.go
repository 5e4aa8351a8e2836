package mesh

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// Resolver finds the endpoints (host:port) of a dependency.
type Resolver interface {
	Resolve(ctx context.Context) ([]string, error)
}

// StaticResolver is a fixed list of endpoints, as the local platform gives
// each instance (one per callee instance, through its sidecar proxy).
type StaticResolver []string

// Resolve implements Resolver.
func (s StaticResolver) Resolve(context.Context) ([]string, error) {
	if len(s) == 0 {
		return nil, fmt.Errorf("no endpoints configured")
	}
	return s, nil
}

// DNSResolver resolves a Kubernetes headless Service name to its pod
// addresses, caching the answer for TTL. Once it has an answer it never
// makes a call wait for DNS: an answer older than TTL is served while one
// lookup refreshes it in the background, so a slow or lost DNS server (a
// CoreDNS pod on a node that died) leaves calls with the last good list
// instead of holding every one of them for the resolver's timeout.
type DNSResolver struct {
	Host string
	Port string
	TTL  time.Duration

	mu         sync.Mutex
	last       []string
	fetched    time.Time
	refreshing bool

	lookupHost func(ctx context.Context, host string) ([]string, error) // nil: the system resolver
}

// LookupTimeout bounds one DNS lookup of a DNSResolver.
const LookupTimeout = time.Second

// Resolve implements Resolver. Only the first lookup is made in the call;
// a failed refresh keeps the last good answer.
func (d *DNSResolver) Resolve(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	if d.last != nil {
		last := d.last
		if time.Since(d.fetched) >= d.ttl() && !d.refreshing {
			d.refreshing = true
			go d.refresh()
		}
		d.mu.Unlock()
		return last, nil
	}
	d.mu.Unlock()
	out, err := d.lookup(ctx)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.last, d.fetched = out, time.Now()
	d.mu.Unlock()
	return out, nil
}

func (d *DNSResolver) ttl() time.Duration {
	if d.TTL == 0 {
		return 2 * time.Second
	}
	return d.TTL
}

// refresh looks the name up again; on failure the last answer stays, and is
// tried again after TTL.
func (d *DNSResolver) refresh() {
	out, err := d.lookup(context.Background())
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil {
		d.last = out
	}
	d.fetched, d.refreshing = time.Now(), false
}

func (d *DNSResolver) lookup(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	lookupHost := d.lookupHost
	if lookupHost == nil {
		lookupHost = net.DefaultResolver.LookupHost
	}
	ips, err := lookupHost(ctx, d.Host)
	if err == nil && len(ips) == 0 {
		err = fmt.Errorf("no addresses")
	}
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", d.Host, err)
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = net.JoinHostPort(ip, d.Port)
	}
	return out, nil
}
