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
// addresses, caching the answer for TTL.
type DNSResolver struct {
	Host string
	Port string
	TTL  time.Duration

	mu      sync.Mutex
	last    []string
	fetched time.Time
}

// Resolve implements Resolver. On a lookup failure it keeps serving the last
// good answer.
func (d *DNSResolver) Resolve(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ttl := d.TTL
	if ttl == 0 {
		ttl = 2 * time.Second
	}
	if d.last != nil && time.Since(d.fetched) < ttl {
		return d.last, nil
	}
	ips, err := net.DefaultResolver.LookupHost(ctx, d.Host)
	if err != nil || len(ips) == 0 {
		if d.last != nil {
			return d.last, nil
		}
		return nil, fmt.Errorf("resolve %s: %w", d.Host, err)
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = net.JoinHostPort(ip, d.Port)
	}
	d.last, d.fetched = out, time.Now()
	return out, nil
}
