package store

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Copy is a process's own copy of a bucket, kept by watching it, for the
// answers a service gives while the store cannot: card-api's stand-in
// decisions (the cards, the balances), edge's sessions, balance's reads.
// Reading it never waits on the store. It is as fresh as the watch: while
// the store cannot serve the watch (a node lost, a leader being elected),
// it holds what the bucket held when the watch stalled, so a service
// reads it only when the bucket does not answer, and says so, or caps
// what it does on it.
type Copy[T any] struct {
	mu   sync.RWMutex
	vals map[string]T
}

// NewCopy returns an empty copy; Keep fills it.
func NewCopy[T any]() *Copy[T] { return &Copy[T]{vals: map[string]T{}} }

// Get returns the copy of key, and whether there is one.
func (c *Copy[T]) Get(key string) (T, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.vals[key]
	return v, ok
}

// Keep watches kv into the copy until ctx ends, watching again a second
// after the watch ends for any other reason. A deleted or purged key
// leaves the copy; a value that does not decode is skipped.
func (c *Copy[T]) Keep(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger) {
	for ctx.Err() == nil {
		w, err := kv.WatchAll(ctx)
		if err != nil {
			log.Warn("copy of a bucket: watch failed; retrying", "bucket", kv.Bucket(), "err", err)
		} else {
			for e := range w.Updates() {
				if e != nil { // nil marks the end of the initial values
					c.apply(e)
				}
			}
			_ = w.Stop()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// apply takes one update of the watch into the copy.
func (c *Copy[T]) apply(e jetstream.KeyValueEntry) {
	if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
		c.mu.Lock()
		delete(c.vals, e.Key())
		c.mu.Unlock()
		return
	}
	var v T
	if json.Unmarshal(e.Value(), &v) != nil {
		return
	}
	c.mu.Lock()
	c.vals[e.Key()] = v
	c.mu.Unlock()
}
