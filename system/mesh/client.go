package mesh

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client defaults (the ejection defaults are in endpoint.go).
const (
	DefaultCallTimeout = 1 * time.Second
	DefaultAttempts    = 3
)

// CallError is a failed call to a dependency (not a 4xx answer, which is
// returned as *Error).
type CallError struct {
	Dep      string
	Endpoint string
	Status   int // 0 when no response arrived
	Timeout  bool
	Err      error
}

func (e *CallError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("call %s at %s: status %d: %v", e.Dep, e.Endpoint, e.Status, e.Err)
	}
	return fmt.Sprintf("call %s at %s: %v", e.Dep, e.Endpoint, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// Client calls one dependency. Safe for concurrent use.
type Client struct {
	dep      string
	resolver Resolver
	http     *http.Client
	metrics  *Metrics
	budget   *RetryBudget
	timeout  time.Duration
	attempts int
	ejectMin time.Duration // the first ejection of an endpoint
	ejectMax time.Duration // the longest
	tls      *tls.Config   // nil: plain HTTP
	scheme   string        // "http" or "https"

	mu        sync.Mutex
	endpoints map[string]*endpoint
	next      atomic.Uint64
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithCallTimeout sets the default timeout of a call, retries included.
func WithCallTimeout(d time.Duration) ClientOption { return func(c *Client) { c.timeout = d } }

// WithAttempts sets the most attempts of an idempotent call.
func WithAttempts(n int) ClientOption { return func(c *Client) { c.attempts = max(1, n) } }

// WithEjection sets how long an ejected endpoint stays out: first for
// first, each ejection in a row twice as long as the last, at most most.
func WithEjection(first, most time.Duration) ClientOption {
	return func(c *Client) { c.ejectMin, c.ejectMax = first, max(first, most) }
}

// WithClientTLS makes the client call over TLS with cfg (the caller's
// certificate, and the dependency's name to expect: identity.ClientConfig).
func WithClientTLS(cfg *tls.Config) ClientOption { return func(c *Client) { c.tls = cfg } }

// WithRetryBudget shares a retry budget between clients.
func WithRetryBudget(b *RetryBudget) ClientOption { return func(c *Client) { c.budget = b } }

// NewClient returns a client for dependency dep found by r.
func NewClient(dep string, r Resolver, m *Metrics, opts ...ClientOption) *Client {
	c := &Client{
		dep: dep, resolver: r, metrics: m,
		budget:    NewRetryBudget(DefaultRetryRatio, DefaultRetryFloorRPS),
		timeout:   DefaultCallTimeout,
		attempts:  DefaultAttempts,
		ejectMin:  DefaultBreakerPeriod,
		ejectMax:  DefaultMaxEjection,
		endpoints: map[string]*endpoint{},
	}
	for _, o := range opts {
		o(c)
	}
	c.scheme = "http"
	if c.tls != nil {
		c.scheme = "https"
	}
	c.http = &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 500 * time.Millisecond, KeepAlive: 15 * time.Second}).DialContext,
		TLSClientConfig:     c.tls,
		TLSHandshakeTimeout: 2 * time.Second,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
	}}
	return c
}

// Call describes one call.
type Call struct {
	Method         string
	Path           string
	Body           any    // marshalled as JSON when non-nil
	IdempotencyKey string // makes a non-GET call retryable
	Customer       string // forwarded as X-Customer
	Timeout        time.Duration
}

func (c *Call) idempotent() bool { return c.Method == http.MethodGet || c.IdempotencyKey != "" }

// check refuses a call that no server could be sent: a path or header
// value with bytes a request line or header may not carry. Such a value
// comes from the caller's input (a body field it copied), so it is the
// caller's bad request (400), not the dependency's failure: it must not
// reach the transport, where it would count against a healthy endpoint.
func (c *Call) check() error {
	switch {
	case !HeaderSafe(c.IdempotencyKey) || len(c.IdempotencyKey) > 256:
		return Errorf(http.StatusBadRequest, "bad_idempotency_key", "an idempotency key must be at most 256 printable ASCII bytes")
	case !HeaderSafe(c.Customer) || len(c.Customer) > 64:
		return Errorf(http.StatusBadRequest, "bad_customer", "a customer id must be at most 64 printable ASCII bytes")
	case !HeaderSafe(c.Path) || strings.ContainsAny(c.Path, " ?#"):
		return Errorf(http.StatusBadRequest, "bad_path", "a path must be printable ASCII without spaces")
	}
	return nil
}

// HeaderSafe reports whether s is printable ASCII (no controls, no
// spaces), as a header value or path segment must be here.
func HeaderSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// Do sends call and decodes a 2xx JSON answer into out (when non-nil). A 4xx
// answer is returned as *Error; anything else as *CallError.
func (c *Client) Do(ctx context.Context, call Call, out any) error {
	if err := call.check(); err != nil {
		return err
	}
	start := time.Now()
	if spent(ctx) {
		// The caller's deadline (its own, or the one its caller propagated)
		// is already spent: no try could be answered in time.
		err := &CallError{Dep: c.dep, Timeout: !errors.Is(ctx.Err(), context.Canceled), Err: errDeadlineSpent}
		c.metrics.deadlineSpent.WithLabelValues(c.dep).Inc()
		c.metrics.clientCalls.WithLabelValues(c.dep, outcome(err)).Inc()
		return err
	}
	caller := ctx
	timeout := call.Timeout
	if timeout == 0 {
		timeout = c.timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body []byte
	if call.Body != nil {
		var err error
		if body, err = json.Marshal(call.Body); err != nil {
			return fmt.Errorf("encode call to %s: %w", c.dep, err)
		}
	}
	attempts := 1
	if call.idempotent() {
		attempts = c.attempts
	}
	c.budget.OnRequest()
	var err error
	tried := map[string]bool{}
	// A try that an endpoint's breaker refused sent nothing: the next one
	// goes elsewhere at once, without spending a retry or the retry budget
	// (it adds no load to the dependency), even for a call that is not
	// idempotent. Each endpoint refuses at most once per call (the next
	// pick skips tried endpoints), so refusals alone cannot loop.
	for i, refusals := 0, 0; i < attempts; i++ {
		if i > 0 {
			if !c.budget.TryRetry() {
				c.metrics.budgetDenied.WithLabelValues(c.dep).Inc()
				break
			}
			c.metrics.retries.WithLabelValues(c.dep).Inc()
			if !sleep(ctx, time.Duration(2+rand.IntN(8))*time.Millisecond) {
				break
			}
		}
		err = c.attempt(ctx, call, body, out, attempts-i, tried)
		for refused(err) && refusals < len(tried) && ctx.Err() == nil {
			refusals++
			err = c.attempt(ctx, call, body, out, attempts-i, tried)
		}
		if err == nil || isAnswer(err) || ctx.Err() != nil {
			break
		}
	}
	c.metrics.clientLatency.WithLabelValues(c.dep).Observe(time.Since(start).Seconds())
	c.metrics.clientCalls.WithLabelValues(c.dep, outcome(err)).Inc()
	if err != nil && caller.Err() != nil {
		// The caller's context ended the call, not this call's own timeout.
		c.metrics.callsCancelled.WithLabelValues(c.dep, cause(caller.Err())).Inc()
	}
	return err
}

var errDeadlineSpent = errors.New("not sent: the caller's deadline is already spent")

// spent reports whether ctx is done or has less than a millisecond left,
// the least X-Deadline-Ms can say.
func spent(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < time.Millisecond
}

// cause names why a context ended: CauseCancelled or CauseDeadline.
func cause(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return CauseDeadline
	}
	return CauseCancelled
}

// isAnswer reports whether err is a 4xx answer of the dependency (an
// *Error), not a failed call: a 429 is a *CallError wrapping the *Error the
// refusing endpoint sent, and is retried elsewhere like any failed call.
func isAnswer(err error) bool {
	var ae *Error
	var ce *CallError
	return errors.As(err, &ae) && !errors.As(err, &ce)
}

func outcome(err error) string {
	var ce *CallError
	switch {
	case err == nil:
		return "ok"
	case isAnswer(err):
		return "4xx"
	case errors.As(err, &ce) && ce.Timeout:
		return "timeout"
	default:
		return "error"
	}
}

// PerTryShare is the share of the remaining time a try gets when more tries
// may follow: enough for a slow answer, leaving time to retry elsewhere when
// an endpoint hangs.
const PerTryShare = 0.6

// attempt sends one try to an endpoint not tried yet by this call.
func (c *Client) attempt(ctx context.Context, call Call, body []byte, out any, left int, tried map[string]bool) error {
	e, err := c.pick(ctx, tried)
	if err != nil {
		return &CallError{Dep: c.dep, Err: err}
	}
	ep := e.addr
	tried[ep] = true
	tctx := ctx
	if dl, ok := ctx.Deadline(); ok && left > 1 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(ctx, time.Duration(float64(time.Until(dl))*PerTryShare))
		defer cancel()
	}
	exec := e.breaker.Execute
	if e.ejected(time.Now()) {
		// Panic mode: every endpoint is ejected, so try this one for real
		// rather than fail without asking (its breaker is left as it is).
		exec = func(f func() (*http.Response, error)) (*http.Response, error) { return f() }
	}
	resp, err := exec(func() (*http.Response, error) {
		budget := time.Duration(1<<63 - 1)
		if dl, ok := tctx.Deadline(); ok {
			budget = time.Until(dl)
		}
		resp, err := c.send(tctx, ep, call, body)
		e.tried(err == nil, err, budget)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 500 {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return nil, &CallError{Dep: c.dep, Endpoint: ep, Status: resp.StatusCode, Timeout: resp.StatusCode == http.StatusGatewayTimeout, Err: errors.New(string(bytes.TrimSpace(b)))}
		}
		return resp, nil
	})
	if err != nil {
		var ce *CallError
		if errors.As(err, &ce) {
			return err
		}
		timeout := errors.Is(err, context.DeadlineExceeded) || isTimeout(err)
		return &CallError{Dep: c.dep, Endpoint: ep, Timeout: timeout, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		e := &Error{Status: resp.StatusCode}
		if json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(e) != nil || e.Code == "" {
			e.Code = "upstream_" + strconv.Itoa(resp.StatusCode)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			return &CallError{Dep: c.dep, Endpoint: ep, Status: resp.StatusCode, Err: e}
		}
		return e
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return &CallError{Dep: c.dep, Endpoint: ep, Status: resp.StatusCode, Err: fmt.Errorf("decode answer: %w", err)}
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *Client) send(ctx context.Context, ep string, call Call, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, call.Method, c.scheme+"://"+ep+call.Path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id := RequestID(ctx); id != "" {
		req.Header.Set(HeaderRequestID, id)
	}
	if dl, ok := ctx.Deadline(); ok {
		req.Header.Set(HeaderDeadline, strconv.FormatInt(max(1, time.Until(dl).Milliseconds()), 10))
	}
	if call.IdempotencyKey != "" {
		req.Header.Set(HeaderIdempotency, call.IdempotencyKey)
	}
	if call.Customer != "" {
		req.Header.Set(HeaderCustomer, call.Customer)
	}
	return c.http.Do(req)
}

// pick chooses the next endpoint round robin among those not ejected (see
// endpoint), and not waiting for the answers to their probes, that this
// call has not tried yet. When every endpoint is ejected
// it uses them all (panic mode), so that a dependency that recovers is found
// again; when every one was tried, any may be tried again.
func (c *Client) pick(ctx context.Context, tried map[string]bool) (*endpoint, error) {
	eps, err := c.resolver.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	n := c.next.Add(1)
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var healthy, fresh []string
	for _, ep := range eps {
		if e := c.endpoint(ep); !e.ejected(now) && !e.probing() {
			healthy = append(healthy, ep)
			if !tried[ep] {
				fresh = append(fresh, ep)
			}
		}
	}
	switch {
	case len(fresh) > 0:
		healthy = fresh
	case len(healthy) == 0:
		healthy = eps
	}
	return c.endpoint(healthy[int(n%uint64(len(healthy)))]), nil
}

// endpoint returns ep's health, creating it. c.mu must be held.
func (c *Client) endpoint(ep string) *endpoint {
	e, ok := c.endpoints[ep]
	if !ok {
		e = newEndpoint(c.dep, ep, c.metrics, DefaultBreakerFails, DefaultSilentFails, c.ejectMin, c.ejectMax)
		c.endpoints[ep] = e
	}
	return e
}

// Reachable reports whether any endpoint answers /healthz.
func (c *Client) Reachable(ctx context.Context) error {
	eps, err := c.resolver.Resolve(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ep := range eps {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.scheme+"://"+ep+"/healthz", nil)
		resp, err := c.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("%s unreachable: %w", c.dep, errors.Join(errs...))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
