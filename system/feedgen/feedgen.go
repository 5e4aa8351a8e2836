// Package feedgen is the deferred feed-generator worker: it folds customer
// events into each customer's feed (the newest items first). Deduplicated by
// event key, so redelivery is harmless.
//
// A fold is a read and a conditional write of the customer's whole feed
// (up to feed.MaxItems items, about 12 KB), one event after another: under
// the sweep's load (about 50 events a second) on two cores, that went at
// 35-45 a second and the feeds fell further behind with every fault. So
// the worker keeps the feeds it wrote and their revisions (a write needs
// no read while it is the feed's only writer), and folds in lanes, one
// customer's events in one lane and in order.
package feedgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/enrichment"
	"github.com/faultline/faultline/system/feed"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// lanes is how many customers' events are folded at once.
const lanes = 4

// maxKept bounds the feeds kept; past it the memory starts afresh.
const maxKept = 1000

type service struct {
	kv jetstream.KeyValue

	mu   sync.Mutex
	kept map[string]kept // by customer: the feed as this process last wrote it
}

// kept is a feed as written, and the revision the write made.
type kept struct {
	f   feed.Feed
	rev uint64
}

// Setup wires feed-generator into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketFeed)
	if err != nil {
		return err
	}
	if _, err := store.EnsureStream(ctx, p.JS, store.EventsStream); err != nil {
		return err
	}
	s := &service{kv: kv, kept: map[string]kept{}}
	p.Go(func(ctx context.Context) {
		p.ConsumeDeferred(ctx, store.EventsStream, "feed-generator", "", lanes, s.fold)
	})
	return nil
}

func (s *service) fold(ctx context.Context, m jetstream.Msg) error {
	var ev enrichment.Event
	if err := json.Unmarshal(m.Data(), &ev); err != nil || ev.Customer == "" {
		return nil
	}
	f, rev, ok := s.lastWritten(ev.Customer)
	if !ok {
		var err error
		if rev, err = store.GetJSON(ctx, s.kv, ev.Customer, &f); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if f.Has(ev.Key) {
		return nil // folded before: a redelivery
	}
	f.Add(ev) // into new items: the kept feed is not changed
	rev, err := store.PutJSONAt(ctx, s.kv, ev.Customer, rev, f)
	if err != nil {
		// Another writer, or a write whose outcome is not known: read
		// the feed afresh when the event comes again.
		s.forget(ev.Customer)
		return fmt.Errorf("write %s/%s: %w", s.kv.Bucket(), ev.Customer, err)
	}
	s.remember(ev.Customer, f, rev)
	return nil
}

func (s *service) lastWritten(customer string) (feed.Feed, uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.kept[customer]
	return k.f, k.rev, ok
}

func (s *service) remember(customer string, f feed.Feed, rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.kept) >= maxKept {
		clear(s.kept)
	}
	s.kept[customer] = kept{f: f, rev: rev}
}

func (s *service) forget(customer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.kept, customer)
}
