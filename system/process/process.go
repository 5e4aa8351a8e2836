// Package process is what every bank process has: its mesh server and
// metrics, its store connection, its clients to the services it calls, its
// background workers, and the order in which they start and stop.
//
// Services plug in with a Setup function; process does not know any service.
package process

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/identity"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/topology"
)

// Config is the configuration of one process.
type Config struct {
	Service  string
	Instance string // unique name of this replica, e.g. balance-1
	Listen   string // host:port
	Store    string // comma-separated NATS URLs
	Peers    map[string]mesh.Resolver
	Admin    bool // enable the admin fault hook
	// AdminListen, with Admin, serves the admin hook on this host:port
	// only, not on Listen (on Kubernetes, 127.0.0.1 in the pod: reachable
	// by a port-forward, never through a Service).
	AdminListen string
	// AdminToken is the bearer token /admin and /metrics require (the
	// platform's, per run); Admin needs one.
	AdminToken string
	// StorePassword is the service's own password for the store, derived
	// from the run's store key by the platform (store.Password).
	StorePassword string
	// Identity is the process's certificate (identity.FromEnv): with it,
	// the process serves TLS, authorises each route from the mesh
	// description (topology.MayCall) and calls its dependencies over mutual
	// TLS; without it, plain HTTP and no authorisation.
	Identity  *identity.Credentials
	RateLimit int
	Log       *slog.Logger
}

// Setup wires a service into p: it creates the service's buckets, registers
// its handlers and starts its workers. It may be retried until it succeeds.
type Setup func(ctx context.Context, p *Process) error

// Process is one running bank process.
type Process struct {
	Config
	Server  *mesh.Server
	Metrics *mesh.Metrics
	NC      *nats.Conn
	JS      jetstream.JetStream
	Log     *slog.Logger

	clients map[string]*mesh.Client
	ready   atomic.Bool
	wg      sync.WaitGroup
	workers []func(ctx context.Context)
	routes  map[string]bool
}

// New returns a process for cfg; nothing runs until Run.
func New(cfg Config) (*Process, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Admin && len(cfg.AdminToken) < 16 {
		return nil, fmt.Errorf("%s: the admin fault hook needs a token of at least 16 bytes (BANK_ADMIN_TOKEN)", cfg.Service)
	}
	m := mesh.NewMetrics(cfg.Service)
	opts := []mesh.ServerOption{mesh.WithLogger(cfg.Log), mesh.WithAdminToken(cfg.AdminToken)}
	if cfg.RateLimit != 0 {
		opts = append(opts, mesh.WithRateLimit(cfg.RateLimit))
	}
	switch {
	case cfg.Admin && cfg.AdminListen != "":
		opts = append(opts, mesh.WithAdminApart())
	case cfg.Admin:
		opts = append(opts, mesh.WithAdmin())
	}
	if cfg.Identity != nil {
		name, err := cfg.Identity.Name()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Service, err)
		}
		if name != cfg.Service {
			return nil, fmt.Errorf("%s: its certificate (%s) names %q", cfg.Service, identity.EnvCert, name)
		}
		tc, err := cfg.Identity.ServerConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, mesh.WithTLS(tc, policy(cfg.Service)))
	}
	p := &Process{Config: cfg, Metrics: m, Log: cfg.Log, clients: map[string]*mesh.Client{}}
	p.Server = mesh.NewServer(cfg.Service, m, opts...)
	budget := mesh.NewRetryBudget(mesh.DefaultRetryRatio, mesh.DefaultRetryFloorRPS)
	for dep, r := range cfg.Peers {
		copts := []mesh.ClientOption{mesh.WithRetryBudget(budget)}
		if cfg.Identity != nil {
			tc, err := cfg.Identity.ClientConfig(dep)
			if err != nil {
				return nil, err
			}
			copts = append(copts, mesh.WithClientTLS(tc))
		}
		p.clients[dep] = mesh.NewClient(dep, r, m, copts...)
	}
	p.Server.AddReadyCheck(func(ctx context.Context) error {
		if !p.ready.Load() {
			return errors.New("starting")
		}
		if p.NC != nil && !p.NC.IsConnected() {
			return errors.New("store not connected")
		}
		return nil
	})
	return p, nil
}

// Client returns the client for dep, or an error naming the missing --peer.
func (p *Process) Client(dep string) (*mesh.Client, error) {
	c, ok := p.clients[dep]
	if !ok {
		return nil, fmt.Errorf("%s: no endpoints for dependency %q (--peer %s=...)", p.Service, dep, dep)
	}
	return c, nil
}

// Go registers a background worker started once setup has succeeded. It
// must return when ctx is done.
func (p *Process) Go(w func(ctx context.Context)) { p.workers = append(p.workers, w) }

// Run connects to the store, serves, runs setup until it succeeds, then runs
// the workers, until ctx is done; then it drains and returns.
func (p *Process) Run(ctx context.Context, setup Setup) error {
	if p.Store != "" {
		nc, js, err := store.Connect(p.Store, p.Instance, store.Login(p.Service, p.StorePassword))
		if err != nil {
			return err
		}
		p.NC, p.JS = nc, js
		defer nc.Close()
	}
	ln, err := net.Listen("tcp", p.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", p.Listen, err)
	}
	if h := p.Server.AdminHandler(); h != nil {
		aln, err := net.Listen("tcp", p.AdminListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("admin: listen on %s: %w", p.AdminListen, err)
		}
		if tc := p.Server.TLSConfig(); tc != nil {
			aln = tls.NewListener(aln, tc)
		}
		admin := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = admin.Serve(aln) }()
		defer admin.Close()
	}
	srvErr := make(chan error, 1)
	p.Server.Hold() // routes are registered by setup, which may take a store election
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { srvErr <- p.Server.Serve(sctx, ln) }()
	rctx, giveUp := context.WithCancel(ctx)
	defer giveUp()
	var fatal error
	err = store.Retry(rctx, p.Service+" setup", func(context.Context) error {
		err := setup(ctx, p)
		if fe := (*fatalError)(nil); errors.As(err, &fe) {
			fatal = fe.err
			giveUp()
		}
		return err
	})
	if fatal != nil {
		p.Log.Error("setup cannot succeed", "err", fatal)
		stop()
		<-srvErr
		return fatal
	}
	if err != nil {
		p.Log.Warn("stopped before setup finished", "err", err)
		return <-srvErr
	}
	for _, w := range p.workers {
		p.wg.Add(1)
		go func() { defer p.wg.Done(); w(ctx) }()
	}
	p.Server.Open()
	p.ready.Store(true)
	p.Log.Info("ready", "instance", p.Instance, "listen", p.Listen)
	err = <-srvErr
	p.wg.Wait()
	return err
}

// Handle registers a route on the process's server. Setup functions create
// their storage first and register routes last, so a failed setup attempt
// registers nothing; Handle also ignores a pattern registered twice.
func (p *Process) Handle(pattern string, h mesh.Handler) {
	if p.routes == nil {
		p.routes = map[string]bool{}
	}
	if p.routes[pattern] {
		return
	}
	p.routes[pattern] = true
	p.Server.Handle(pattern, h)
}

// KV returns the named bucket, creating it if needed.
func (p *Process) KV(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	return store.EnsureKV(ctx, p.JS, bucket)
}

// ServeKV returns a handler for "GET .../{id}" that answers the JSON value of
// key {id} in kv, a 400 for an invalid id and a 404 naming what is missing.
// With held, the process's copy of kv (store.Copy), a read the bucket
// fails or leaves unanswered for copyAfter (a store node lost, an election
// under way) is answered from the copy, which holds what the bucket held
// when the copy last heard from it (store.Hedged); a key the bucket says
// is missing is a 404, never the copy's.
func ServeKV(kv jetstream.KeyValue, held *store.Copy[json.RawMessage], what string, valid func(string) bool) mesh.Handler {
	get := func(ctx context.Context, id string) (json.RawMessage, error) {
		var v json.RawMessage
		_, err := store.GetJSON(ctx, kv, id, &v)
		return v, err
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if !valid(id) {
			return mesh.Errorf(http.StatusBadRequest, "bad_"+what, "invalid %s id", what)
		}
		var v json.RawMessage
		var err error
		if held == nil {
			v, err = get(r.Context(), id)
		} else {
			v, _, err = store.Hedged(r.Context(), copyAfter,
				func(ctx context.Context) (json.RawMessage, error) { return get(ctx, id) },
				func() (json.RawMessage, bool) { return held.Get(id) })
		}
		if errors.Is(err, store.ErrNotFound) {
			return mesh.Errorf(http.StatusNotFound, "unknown_"+what, "%s %s does not exist", what, id)
		}
		if err != nil {
			return err
		}
		mesh.WriteJSON(w, http.StatusOK, v)
		return nil
	}
}

// copyAfter is how long ServeKV waits on the bucket before it answers
// from a copy: past it the bucket's leader is taken to be away.
const copyAfter = 300 * time.Millisecond

// policy authorises a service's routes from the mesh description.
type policy string

func (p policy) MayCall(caller, pattern string) error {
	return topology.MayCall(caller, string(p), pattern)
}

func (p policy) MayActFor(caller string, customer bool) error {
	return topology.MayActFor(caller, customer)
}

// Fatal marks a setup error that no retry can fix, such as a missing
// setting: Run stops and returns it, so the process exits saying why
// instead of waiting to be ready forever.
func Fatal(err error) error { return &fatalError{err} }

type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }
