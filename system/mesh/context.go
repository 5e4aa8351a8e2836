package mesh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
)

// Headers carried across hops.
const (
	HeaderRequestID   = "X-Request-Id"
	HeaderDeadline    = "X-Deadline-Ms" // remaining budget of the caller, in milliseconds
	HeaderIdempotency = "Idempotency-Key"
	HeaderCustomer    = "X-Customer" // set by edge after authentication
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	loggerKey
)

// validRequestID matches the request IDs a server takes from its caller;
// any other (too long, or with bytes a log line or header should not
// carry) is replaced by a new one.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// withLogger returns ctx carrying the server's logger.
func withLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey, l)
}

// logger returns the logger ctx carries, or one that discards.
func logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request ID carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// NewID returns a random 16-byte hex ID.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// OwnCustomer returns the customer named by the route's {c} segment if it is
// the authenticated customer that edge forwarded in X-Customer; otherwise a
// 403 *Error. Customer-scoped services use it so that a customer can only
// reach their own data.
func OwnCustomer(r *http.Request) (string, error) {
	c := r.PathValue("c")
	if c == "" || c != r.Header.Get(HeaderCustomer) {
		return "", Errorf(http.StatusForbidden, "forbidden", "not your data")
	}
	return c, nil
}
