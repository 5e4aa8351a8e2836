package kube

import (
	"context"
	"fmt"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/deploy"
	"github.com/faultline/faultline/system/sidecar"
	"github.com/faultline/faultline/system/topology"
)

// link is one proxy of a pod's fault sidecar, reached through a
// port-forward to the sidecar's API in the caller's pod. A caller pod that
// restarts gets a new sidecar with no toxics: the fault ends with it, as a
// real sidecar's would.
type link struct {
	p        *Platform
	from, to platform.Instance
}

var _ platform.Link = (*link)(nil)

func (l *link) From() platform.Instance { return l.from }
func (l *link) To() platform.Instance   { return l.to }
func (l *link) name() string            { return l.from.Name + "->" + l.to.Name }

func (l *link) proxy() (*toxiclient.Proxy, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr, err := l.p.forwardTo(ctx, l.from.Name, sidecar.APIPort)
	if err != nil {
		return nil, err
	}
	px, err := toxiclient.NewClient(addr).Proxy(l.name())
	if err != nil {
		return nil, fmt.Errorf("sidecar of %s: proxy %s: %w", l.from.Name, l.name(), err)
	}
	return px, nil
}

func (l *link) AddToxic(t platform.Toxic) error {
	px, err := l.proxy()
	if err != nil {
		return err
	}
	if _, err := px.AddToxic(t.Name, t.Type, t.Stream, t.Toxicity, toxiclient.Attributes(t.Attributes)); err != nil {
		return fmt.Errorf("add toxic %s to %s: %w", t.Name, l.name(), err)
	}
	return nil
}

func (l *link) RemoveToxic(name string) error {
	px, err := l.proxy()
	if err != nil {
		return err
	}
	ts, err := px.Toxics()
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.Name == name {
			return px.RemoveToxic(name)
		}
	}
	return nil
}

func (l *link) Toxics() []string {
	px, err := l.proxy()
	if err != nil {
		return nil
	}
	ts, err := px.Toxics()
	if err != nil {
		return nil
	}
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// Links implements platform.Links: every sidecar proxy from an instance
// matching from to one matching to (each an instance name, a service name
// or "" for any), as the manifests declare them.
func (p *Platform) Links(from, to string) []platform.Link {
	byName := map[string]platform.Instance{}
	for _, in := range p.Instances("") {
		byName[in.Name] = in
	}
	var out []platform.Link
	for _, s := range topology.Services {
		for _, caller := range p.Instances(s.Name) {
			if !matches(caller, from) {
				continue
			}
			for _, pl := range deploy.Links(s, p.o.Namespace) {
				callee := byName[pl.Callee]
				if matches(callee, to) {
					out = append(out, &link{p: p, from: caller, to: callee})
				}
			}
		}
	}
	return out
}

func matches(inst platform.Instance, sel string) bool {
	return sel == "" || sel == inst.Name || sel == inst.Service
}
