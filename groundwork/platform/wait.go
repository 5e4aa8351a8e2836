package platform

import (
	"context"
	"fmt"
	"time"
)

// WaitUntil checks ok every interval until it holds or ctx ends; what
// names the wait in the error.
func WaitUntil(ctx context.Context, interval time.Duration, what string, ok func() bool) error {
	for !ok() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(interval):
		}
	}
	return nil
}
