package mesh

import (
	"sync"

	"golang.org/x/time/rate"
)

// RetryBudget bounds retries to a fraction of requests, plus a small floor
// per second, so that a failing dependency never sees a retry storm: every
// request deposits Ratio of a token, every retry spends a whole one.
// Safe for concurrent use.
type RetryBudget struct {
	mu      sync.Mutex
	ratio   float64
	max     float64
	balance float64
	floor   *rate.Limiter
}

// Default retry budget: retries up to 20% of requests plus 5 per second.
const (
	DefaultRetryRatio    = 0.2
	DefaultRetryFloorRPS = 5
)

// NewRetryBudget returns a budget of ratio retries per request plus floor
// retries per second.
func NewRetryBudget(ratio float64, floor int) *RetryBudget {
	return &RetryBudget{ratio: ratio, max: 100, floor: rate.NewLimiter(rate.Limit(floor), floor)}
}

// OnRequest records a first attempt.
func (b *RetryBudget) OnRequest() {
	b.mu.Lock()
	b.balance = min(b.max, b.balance+b.ratio)
	b.mu.Unlock()
}

// TryRetry reports whether a retry may be sent, spending budget if so.
func (b *RetryBudget) TryRetry() bool {
	b.mu.Lock()
	if b.balance >= 1 {
		b.balance--
		b.mu.Unlock()
		return true
	}
	b.mu.Unlock()
	return b.floor.Allow()
}
