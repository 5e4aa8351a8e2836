// Package sidecar is the fault sidecar of a bank pod on Kubernetes: one
// toxiproxy proxy per link from this pod's instance to each instance it
// calls, named "<caller>-><callee>" as on the local platform, so that every
// link fault and scenario works unchanged. The bank's container calls its
// dependencies through the proxies' loopback ports; the harness reaches
// the toxiproxy API through a port-forward to APIPort on 127.0.0.1 in the
// pod, never through a Service. Each proxy dials its callee through a
// forwarder (forward.go), so that one callee that cannot be reached holds
// up no other connection.
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"strings"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// APIPort is the toxiproxy API's port inside the pod.
const APIPort = 8474

// Link is one proxy: Name (caller->callee), the loopback address it listens
// on in the pod and the callee's address.
type Link struct {
	Name     string
	Listen   string
	Upstream string
}

// ParseLink reads "name=listen=upstream", as the --link flag gives it.
func ParseLink(s string) (Link, error) {
	parts := strings.Split(s, "=")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Link{}, fmt.Errorf("link %q: want name=listen=upstream", s)
	}
	return Link{Name: parts[0], Listen: parts[1], Upstream: parts[2]}, nil
}

// Run serves the proxies and the toxiproxy API on api until ctx is done.
func Run(ctx context.Context, api string, links []Link) error {
	if len(links) == 0 {
		return errors.New("sidecar: no links")
	}
	zerolog.SetGlobalLevel(zerolog.WarnLevel)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	for _, l := range links {
		up, err := newUpstream(l.Upstream)
		if err != nil {
			return fmt.Errorf("sidecar: link %s: upstream %q: %w", l.Name, l.Upstream, err)
		}
		fw, err := addLink(ctx, srv, l.Name, l.Listen, up)
		if err != nil {
			return err
		}
		defer fw.Close()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Listen(api) }()
	select {
	case err := <-errc:
		_ = srv.Collection.Clear()
		return fmt.Errorf("sidecar: api on %s: %w", api, err)
	case <-ctx.Done():
	}
	_ = srv.Shutdown()
	return srv.Collection.Clear()
}

// addLink starts link name's proxy on listen, dialing up through a
// forwarder of its own.
func addLink(ctx context.Context, srv *toxiproxy.ApiServer, name, listen string, up *upstream) (*forwarder, error) {
	fw, err := listenForwarder(ctx, up)
	if err != nil {
		return nil, fmt.Errorf("sidecar: link %s: %w", name, err)
	}
	if err := srv.Collection.Add(toxiproxy.NewProxy(srv, name, listen, fw.Addr()), true); err != nil {
		fw.Close()
		return nil, fmt.Errorf("sidecar: proxy %s: %w", name, err)
	}
	return fw, nil
}
