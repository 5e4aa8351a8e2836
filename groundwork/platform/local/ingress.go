package local

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/groundwork/platform"
)

// ingressPoint is the client's way in to one edge or card-api instance.
type ingressPoint struct {
	addr  string // the ingress proxy
	inst  platform.Instance
	ready *atomic.Bool
}

// IngressPollInterval is how often the ingress checks its instances'
// readiness, as a Kubernetes Service's endpoints would follow it.
const IngressPollInterval = 100 * time.Millisecond

// watchIngress keeps the readiness of every ingress instance current.
func (p *Platform) watchIngress(ctx context.Context) {
	p.mu.Lock()
	for _, points := range p.ingress {
		for i := range points {
			points[i].ready = new(atomic.Bool)
			points[i].ready.Store(true)
		}
	}
	p.mu.Unlock()
	client := platform.HTTPClient(p, 200*time.Millisecond)
	t := time.NewTicker(IngressPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		var points []ingressPoint
		for _, ps := range p.ingress {
			points = append(points, ps...)
		}
		p.mu.Unlock()
		for _, ip := range points {
			resp, err := client.Get(platform.URL(p, ip.inst.Addr, "/readyz"))
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				// Read to the end, so that the connection (and its TLS
				// session) serves the next poll instead of a new handshake.
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			ip.ready.Store(ok)
		}
	}
}

// readyIngress returns the ingress addresses of the ready instances of
// service (edge or card-api), or all of them when none is ready, as a load
// balancer that follows readiness would.
func (p *Platform) readyIngress(service string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ready, all []string
	for _, ip := range p.ingress[service] {
		all = append(all, ip.addr)
		if ip.ready == nil || ip.ready.Load() {
			ready = append(ready, ip.addr)
		}
	}
	if len(ready) == 0 {
		return all
	}
	return ready
}
