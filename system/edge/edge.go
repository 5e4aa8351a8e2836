// Package edge is the API gateway for the bank's app. It authenticates bearer
// tokens, applies a per-customer rate limit, checks that a customer only
// touches their own accounts and cards, and routes each request to the one
// service that serves it. It holds no money logic.
package edge

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// Session is what a bearer token grants, until it expires.
type Session struct {
	Customer string    `json:"customer"`
	Accounts []string  `json:"accounts"`
	Cards    []string  `json:"cards"`
	Expires  time.Time `json:"expires"`
}

// SessionLife is how long a seeded session lasts: longer than the longest
// run (a nightly soak), short enough that a token found later is dead.
const SessionLife = 24 * time.Hour

// Per-customer rate limit.
const (
	CustomerRPS   = 50
	CustomerBurst = 100
	sessionTTL    = time.Minute
	// sessionRead bounds a read of the sessions bucket: past it the
	// bucket's leader is taken to be away (a store node lost, an election
	// under way) and edge's copy of the bucket answers.
	sessionRead = 150 * time.Millisecond
	// MaxDeadline is the longest X-Deadline-Ms edge takes from the app.
	MaxDeadline = 10 * time.Second
)

// SessionKey is the store key of a token (tokens are never stored in clear).
func SessionKey(token string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(token))) }

type cached struct {
	s       Session
	fetched time.Time
}

type service struct {
	p        *process.Process
	sessions jetstream.KeyValue
	copy     *store.Copy[Session] // the sessions bucket, for when it does not answer
	deps     map[string]*mesh.Client

	mu       sync.Mutex
	cache    map[string]cached
	limiters map[string]*rate.Limiter
}

var routedTo = []string{"balance", "payments", "cards", "feed", "support", "emoji", "profile", "merchant"}

// Setup wires edge into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketSessions)
	if err != nil {
		return err
	}
	s := &service{p: p, sessions: kv, copy: store.NewCopy[Session](), deps: map[string]*mesh.Client{}, cache: map[string]cached{}, limiters: map[string]*rate.Limiter{}}
	p.Go(func(ctx context.Context) { s.copy.Keep(ctx, kv, p.Log) })
	for _, d := range routedTo {
		if s.deps[d], err = p.Client(d); err != nil {
			return err
		}
	}
	s.routes()
	// The app's deadline is the edge's to bound: no caller outside makes
	// it hold work, or the calls it makes inward, for longer.
	p.Server.ClampDeadlines(MaxDeadline)
	return nil
}

// authed wraps a handler with authentication and the customer's rate limit.
func (s *service) authed(h func(w http.ResponseWriter, r *http.Request, sess Session) error) mesh.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" || len(token) > 128 {
			return mesh.Errorf(http.StatusUnauthorized, "unauthenticated", "a bearer token is required")
		}
		sess, err := s.session(r.Context(), token)
		if err != nil {
			return err
		}
		// A session without an end is refused like an expired one.
		if !time.Now().Before(sess.Expires) {
			return mesh.Errorf(http.StatusUnauthorized, "session_expired", "the session has expired; sign in again")
		}
		if !s.limiter(sess.Customer).Allow() {
			return mesh.Errorf(http.StatusTooManyRequests, "rate_limited", "too many requests for this customer")
		}
		return h(w, r, sess)
	}
}

func (s *service) session(ctx context.Context, token string) (Session, error) {
	key := SessionKey(token)
	s.mu.Lock()
	c, ok := s.cache[key]
	s.mu.Unlock()
	if ok && time.Since(c.fetched) < sessionTTL {
		return c.s, nil
	}
	var sess Session
	rctx, cancel := context.WithTimeout(ctx, sessionRead)
	_, err := store.GetJSON(rctx, s.sessions, key, &sess)
	cancel()
	if errors.Is(err, store.ErrNotFound) {
		return sess, mesh.Errorf(http.StatusUnauthorized, "unauthenticated", "unknown token")
	}
	if err != nil {
		// The store is slow or away: keep serving a session this replica
		// knows, from its cache or else its copy of the bucket (sessions
		// are only ever seeded, so the copy lags no sign-in).
		if ok {
			return c.s, nil
		}
		if cs, found := s.copy.Get(key); found {
			return cs, nil
		}
		return sess, err
	}
	s.mu.Lock()
	s.cache[key] = cached{sess, time.Now()}
	s.mu.Unlock()
	return sess, nil
}

func (s *service) limiter(customer string) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.limiters[customer]
	if !ok {
		l = rate.NewLimiter(CustomerRPS, CustomerBurst)
		s.limiters[customer] = l
	}
	return l
}

func owns(list []string, id string) bool {
	for _, x := range list {
		if x == id {
			return true
		}
	}
	return false
}
