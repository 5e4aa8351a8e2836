package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"
)

// Server defaults.
const (
	DefaultRequestTimeout = 5 * time.Second  // when the caller sends no deadline
	DefaultDrainTimeout   = 10 * time.Second // graceful shutdown
	// PreStopDelay is how long a stopping process keeps serving while
	// reporting not ready, so that load balancers stop sending to it before
	// it closes its listener.
	PreStopDelay     = 400 * time.Millisecond
	DefaultRateLimit = 4000 // requests per second per process
)

// ReadyCheck reports whether a process can take traffic.
type ReadyCheck func(ctx context.Context) error

// Server is the HTTP server of one bank process. Register handlers with
// Handle before Run; Run blocks until ctx is done, then drains.
type Server struct {
	name string
	mux  *http.ServeMux
	// adminMux serves the admin hook apart from the routes (WithAdminApart),
	// so that nothing reaching the service's port can inject faults.
	adminMux *http.ServeMux
	metrics  *Metrics
	limiter  *rate.Limiter // never nil: rate.Inf when the limit is off
	rps      int           // the configured limit (0: off)
	faults   *FaultHook
	ready    []ReadyCheck
	log      *slog.Logger

	drainTimeout time.Duration
	draining     atomic.Bool
	inFlight     atomic.Int64
	started      atomic.Bool
	holding      atomic.Bool // routes answer 503 "starting" until Open
}

// ServerOption configures a Server.
type ServerOption func(*Server)

// WithAdmin enables the admin fault hook under /admin/faults, on the
// service's own port.
func WithAdmin() ServerOption {
	return func(s *Server) { s.faults = newFaultHook(s.metrics, s.squeeze) }
}

// WithAdminApart enables the admin fault hook on its own handler
// (AdminHandler) instead of the service's port: where the service's port
// is reachable by others (a Kubernetes Service), the hook is served on a
// listener only the harness can reach.
func WithAdminApart() ServerOption {
	return func(s *Server) {
		s.faults = newFaultHook(s.metrics, s.squeeze)
		s.adminMux = http.NewServeMux()
	}
}

// AdminHandler serves the admin fault hook when the server was made
// WithAdminApart, and nil otherwise.
func (s *Server) AdminHandler() http.Handler {
	if s.adminMux == nil {
		return nil
	}
	return s.adminMux
}

// WithRateLimit sets the process-wide request rate limit (0 disables it).
func WithRateLimit(rps int) ServerOption {
	return func(s *Server) {
		s.rps = max(0, rps)
		s.setLimit(s.rps)
	}
}

// setLimit makes the limiter admit rps requests per second, with bursts of
// a quarter of that; 0 admits everything. Safe for concurrent use.
func (s *Server) setLimit(rps int) {
	if rps <= 0 {
		s.limiter.SetLimit(rate.Inf)
		return
	}
	s.limiter.SetBurst(rps/4 + 1)
	s.limiter.SetLimit(rate.Limit(rps))
}

// squeeze lowers the rate limit to rps for an admin fault, or restores the
// configured one when rps is 0.
func (s *Server) squeeze(rps int) {
	if rps <= 0 {
		rps = s.rps
	} else if s.rps > 0 {
		rps = min(rps, s.rps)
	}
	s.setLimit(rps)
}

// WithDrainTimeout sets how long Serve waits for in-flight requests once its
// context is done (DefaultDrainTimeout).
func WithDrainTimeout(d time.Duration) ServerOption { return func(s *Server) { s.drainTimeout = d } }

// WithLogger sets the server's logger.
func WithLogger(l *slog.Logger) ServerOption { return func(s *Server) { s.log = l } }

// NewServer returns a server for the named service.
func NewServer(name string, m *Metrics, opts ...ServerOption) *Server {
	s := &Server{name: name, mux: http.NewServeMux(), metrics: m, log: slog.New(slog.DiscardHandler), drainTimeout: DefaultDrainTimeout,
		limiter: rate.NewLimiter(rate.Inf, 0)}
	WithRateLimit(DefaultRateLimit)(s)
	for _, o := range opts {
		o(s)
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "alive", "service": name})
	})
	s.mux.HandleFunc("GET /readyz", s.serveReady)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	switch {
	case s.faults != nil && s.adminMux != nil:
		s.faults.register(s.adminMux)
	case s.faults != nil:
		s.faults.register(s.mux)
	}
	return s
}

// Handle registers h for pattern (a net/http ServeMux pattern such as
// "POST /v1/payments").
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Hold makes every route but the internal ones (/healthz, /readyz, /metrics,
// /admin) answer 503 "starting" until Open. A process that serves its health
// endpoints while it is still setting up must hold: otherwise a request that
// reaches it before its routes are registered gets a 404, which a caller
// takes as a real answer ("no such card") instead of a retriable failure.
func (s *Server) Hold() { s.holding.Store(true) }

// Open ends Hold: routes are served from now on.
func (s *Server) Open() { s.holding.Store(false) }

// AddReadyCheck adds a check that /readyz runs.
func (s *Server) AddReadyCheck(c ReadyCheck) { s.ready = append(s.ready, c) }

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		WriteJSON(w, http.StatusServiceUnavailable, &Error{Code: "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	for _, c := range s.ready {
		if err := c(ctx); err != nil {
			WriteJSON(w, http.StatusServiceUnavailable, &Error{Code: "not_ready", Detail: err.Error()})
			return
		}
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ready", "service": s.name})
}

// ServeHTTP runs the middleware chain: request ID, deadline, rate limit,
// admin faults, metrics, then the route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	_, pattern := s.mux.Handler(r)
	if pattern == "" {
		pattern = "unmatched"
	}
	id := r.Header.Get(HeaderRequestID)
	if id == "" {
		id = NewID()
	}
	w.Header().Set(HeaderRequestID, id)
	ctx := WithRequestID(r.Context(), id)
	timeout := DefaultRequestTimeout
	if v := r.Header.Get(HeaderDeadline); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 && ms < 600_000 {
			timeout = time.Duration(ms) * time.Millisecond
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r = r.WithContext(ctx)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.inFlight.Add(1)
	s.metrics.inFlight.Inc()
	s.serve(rec, r, pattern)
	s.metrics.inFlight.Dec()
	s.inFlight.Add(-1)
	if err := ctx.Err(); err != nil {
		// The caller gave up, or the deadline it sent passed, before the
		// handler answered: whatever the handler did after is wasted.
		s.metrics.serverCut.WithLabelValues(pattern, cause(err)).Inc()
	}
	if s.draining.Load() && !internalRoute(pattern, r.URL.Path) {
		s.metrics.drainRequests.WithLabelValues(DrainServed).Inc()
	}
	s.metrics.serverRequests.WithLabelValues(pattern, strconv.Itoa(rec.status)).Inc()
	s.metrics.serverLatency.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, pattern string) {
	if !internalRoute(pattern, r.URL.Path) {
		if s.holding.Load() {
			WriteJSON(w, http.StatusServiceUnavailable, &Error{Code: "starting", Detail: s.name + " is still starting"})
			return
		}
		if !s.limiter.Allow() {
			s.metrics.rateLimited.WithLabelValues(pattern).Inc()
			WriteJSON(w, http.StatusTooManyRequests, &Error{Code: "rate_limited", Detail: s.name + " is over its request rate"})
			return
		}
		if s.faults != nil && s.faults.apply(w, r) {
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// internalRoute reports whether a request is for the process itself
// (health, readiness, metrics, admin) rather than for the service.
func internalRoute(pattern, path string) bool {
	return pattern == "GET /healthz" || pattern == "GET /readyz" || pattern == "GET /metrics" || isAdmin(path)
}

// Run listens on addr and serves until ctx is done, then reports not ready
// (still serving) for PreStopDelay, stops accepting, drains in-flight
// requests for up to DefaultDrainTimeout and returns; it returns an error
// naming how many requests were cut if the drain timed out.
func (s *Server) Run(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on an existing listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 90 * time.Second}
	errc := make(chan error, 1)
	s.started.Store(true)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.metrics.draining.Set(1)
	s.log.Info("draining", "service", s.name, "in_flight", s.inFlight.Load())
	time.Sleep(PreStopDelay)
	dctx, cancel := context.WithTimeout(context.Background(), s.drainTimeout)
	defer cancel()
	err := srv.Shutdown(dctx)
	if err != nil {
		cut := s.inFlight.Load()
		s.metrics.drainRequests.WithLabelValues(DrainCut).Add(float64(cut))
		s.log.Warn("drain timed out", "service", s.name, "cut", cut)
		err = fmt.Errorf("drain: %d requests still in flight after %v: %w", cut, s.drainTimeout, err)
	}
	if e := <-errc; err == nil && !errors.Is(e, http.ErrServerClosed) {
		err = e
	}
	return err
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
