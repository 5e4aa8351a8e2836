package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/rs/zerolog"

	"github.com/faultline/faultline/groundwork/platform"
)

// link is one sidecar proxy: caller instance -> callee instance.
type link struct {
	from, to platform.Instance
	proxy    *toxiproxy.Proxy
}

var _ platform.Link = (*link)(nil)

func (l *link) From() platform.Instance { return l.from }
func (l *link) To() platform.Instance   { return l.to }

func (l *link) AddToxic(t platform.Toxic) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if _, err := l.proxy.Toxics.AddToxicJson(bytes.NewReader(b)); err != nil {
		return fmt.Errorf("add toxic %s to %s: %w", t.Name, l.proxy.Name, err)
	}
	return nil
}

func (l *link) RemoveToxic(name string) error {
	if l.proxy.Toxics.GetToxic(name) == nil {
		return nil
	}
	return l.proxy.Toxics.RemoveToxic(context.Background(), name)
}

func (l *link) Toxics() []string {
	var out []string
	for _, t := range l.proxy.Toxics.GetToxicArray() {
		if w, ok := t.(*toxics.ToxicWrapper); ok {
			out = append(out, w.Name)
		}
	}
	return out
}

// sidecars holds every link's proxy, in one embedded toxiproxy server.
type sidecars struct {
	server *toxiproxy.ApiServer
	mu     sync.Mutex
	links  []*link
}

func newSidecars() *sidecars {
	zerolog.SetGlobalLevel(zerolog.Disabled) // toxiproxy logs through the global logger
	return &sidecars{server: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())}
}

// add starts a proxy for from -> to on a free loopback port and returns its
// address.
func (s *sidecars) add(from, to platform.Instance) (string, error) {
	name := from.Name + "->" + to.Name
	p := toxiproxy.NewProxy(s.server, name, "127.0.0.1:0", to.Addr)
	if err := s.server.Collection.Add(p, true); err != nil {
		return "", fmt.Errorf("sidecar %s: %w", name, err)
	}
	s.mu.Lock()
	s.links = append(s.links, &link{from: from, to: to, proxy: p})
	s.mu.Unlock()
	return p.Listen, nil
}

func matches(inst platform.Instance, sel string) bool {
	return sel == "" || sel == inst.Name || sel == inst.Service
}

func (s *sidecars) find(from, to string) []platform.Link {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []platform.Link
	for _, l := range s.links {
		if matches(l.from, from) && matches(l.to, to) {
			out = append(out, l)
		}
	}
	return out
}

func (s *sidecars) close() {
	_ = s.server.Collection.Clear()
}
