package cardapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// copyOf is card-api's own copy of a bucket (the cards, the balance
// projection), kept by watching it, for stand-in decisions (standin.go).
// It is as fresh as the watch: during the store outage that makes card-api
// stand in, the copy holds what the bucket held when its leader was lost,
// which is why stand-in approvals are capped.
type copyOf[T any] struct {
	mu   sync.RWMutex
	vals map[string]T
}

func newCopy[T any]() *copyOf[T] { return &copyOf[T]{vals: map[string]T{}} }

// get returns the copy of key, and whether there is one.
func (c *copyOf[T]) get(key string) (T, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.vals[key]
	return v, ok
}

// keep watches kv into the copy until ctx ends, watching again after the
// watch ends for any other reason.
func (c *copyOf[T]) keep(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger) {
	for ctx.Err() == nil {
		w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
		if err != nil {
			log.Warn("stand-in copy: watch failed; retrying", "bucket", kv.Bucket(), "err", err)
		} else {
			for e := range w.Updates() {
				if e == nil {
					continue // the end of the initial values
				}
				var v T
				if json.Unmarshal(e.Value(), &v) != nil {
					continue
				}
				c.mu.Lock()
				c.vals[e.Key()] = v
				c.mu.Unlock()
			}
			_ = w.Stop()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
