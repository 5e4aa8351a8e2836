package mesh

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
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
	// MaxDeadline is the longest X-Deadline-Ms a server takes from its
	// caller (the audit and the answers list are the long ones); an entry
	// point clamps its callers' further (ClampDeadlines).
	MaxDeadline = 2 * time.Minute
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes = 64 << 10
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
	holding      atomic.Bool  // routes answer 503 "starting" until Open
	maxDeadline  atomic.Int64 // the longest deadline taken from a caller, in ns
	adminToken   string       // bearer token of /admin and /metrics ("": /metrics open)
	tls          *tls.Config  // nil: plain HTTP (WithTLS)
	policy       Policy       // who may call which route (nil: anyone)
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.allowed(w, r) {
			s.adminMux.ServeHTTP(w, r)
		}
	})
}

// WithAdminToken makes /admin and /metrics answer only requests that
// carry "Authorization: Bearer token": the platform issues a token per run
// and gives it to the harness, so that nothing else that reaches a process
// (through an ingress, say) can inject faults or read its metrics.
func WithAdminToken(token string) ServerOption { return func(s *Server) { s.adminToken = token } }

// allowed reports whether r may use an admin route (/admin, /metrics), and
// answers 401 when it may not.
func (s *Server) allowed(w http.ResponseWriter, r *http.Request) bool {
	if s.adminToken == "" {
		return true
	}
	got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.adminToken)) == 1 {
		return true
	}
	WriteJSON(w, http.StatusUnauthorized, &Error{Code: "unauthenticated", Detail: "this route needs the run's admin token"})
	return false
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
	s.maxDeadline.Store(int64(MaxDeadline))
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

// ClampDeadlines makes the server take at most d from a caller's
// X-Deadline-Ms (MaxDeadline by default). An entry point of the bank clamps
// to what it promises its outside callers, so that no outside caller can
// make it hold work (and every call it makes inward) for longer.
func (s *Server) ClampDeadlines(d time.Duration) { s.maxDeadline.Store(int64(d)) }

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
	if !validRequestID.MatchString(id) {
		id = NewID()
	}
	w.Header().Set(HeaderRequestID, id)
	ctx := withLogger(WithRequestID(r.Context(), id), s.log)
	most := time.Duration(s.maxDeadline.Load())
	timeout := min(DefaultRequestTimeout, most)
	if v := r.Header.Get(HeaderDeadline); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 && ms <= most.Milliseconds() {
			timeout = time.Duration(ms) * time.Millisecond
		} else if err == nil && ms > 0 {
			timeout = most
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
	if (pattern == "GET /metrics" || isAdmin(r.URL.Path)) && !s.allowed(w, r) {
		return
	}
	if !internalRoute(pattern, r.URL.Path) {
		if !s.authorised(w, r, pattern) {
			return
		}
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
	if pattern == "unmatched" {
		notFound(s.mux, w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// notFound answers a request no route matches as the mux would (404, or
// 405 with its Allow header), with a JSON body like every other error.
func notFound(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	c := &statusCapture{header: http.Header{}, status: http.StatusNotFound}
	mux.ServeHTTP(c, r)
	if allow := c.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	code := "not_found"
	if c.status == http.StatusMethodNotAllowed {
		code = "method_not_allowed"
	}
	WriteJSON(w, c.status, &Error{Code: code, Detail: http.StatusText(c.status)})
}

// statusCapture keeps the status and headers a handler writes and drops
// its body.
type statusCapture struct {
	header http.Header
	status int
}

func (c *statusCapture) Header() http.Header         { return c.header }
func (c *statusCapture) Write(b []byte) (int, error) { return len(b), nil }
func (c *statusCapture) WriteHeader(code int)        { c.status = code }

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
	// The write timeout leaves room for the longest answers (the audit, the
	// answers list: MaxDeadline); every other route ends at its deadline.
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: MaxDeadline + 30*time.Second, IdleTimeout: 90 * time.Second, MaxHeaderBytes: MaxHeaderBytes,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
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
