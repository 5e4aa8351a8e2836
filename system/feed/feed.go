// Package feed serves each customer's recent transactions, as built by
// feed-generator.
package feed

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/enrichment"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// MaxItems is how many items a feed keeps.
const MaxItems = 50

// Feed is a customer's recent transactions, newest first.
type Feed struct {
	Customer string             `json:"customer"`
	Items    []enrichment.Event `json:"items"`
	// Stale marks a feed the service answered from memory because the
	// store did not answer in time: the feed as last served.
	Stale bool `json:"stale,omitempty"`
}

// Has reports whether the event with key is in the feed.
func (f *Feed) Has(key string) bool {
	return slices.ContainsFunc(f.Items, func(e enrichment.Event) bool { return e.Key == key })
}

// Add puts ev at the head of the feed unless it is already there. The
// items are a new slice: a copy of f made before shares none of Add's.
func (f *Feed) Add(ev enrichment.Event) {
	f.Customer = ev.Customer
	if f.Has(ev.Key) {
		return
	}
	f.Items = append([]enrichment.Event{ev}, f.Items...)
	if len(f.Items) > MaxItems {
		f.Items = f.Items[:MaxItems]
	}
}

type service struct {
	kv jetstream.KeyValue

	mu     sync.Mutex
	served map[string]Feed // by customer: the feed last read from the store
}

// readFeed is how long a feed read waits on the store before the feed
// last served answers, marked stale: past it the bucket's leader is taken
// to be away (a store node lost, an election under way).
const readFeed = 300 * time.Millisecond

// maxServed bounds the feeds remembered; past it the memory starts afresh.
const maxServed = 1000

// Setup wires the feed service into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketFeed)
	if err != nil {
		return err
	}
	s := &service{kv: kv, served: map[string]Feed{}}
	p.Handle("GET /v1/customers/{c}/feed", s.get)
	return nil
}

func (s *service) get(w http.ResponseWriter, r *http.Request) error {
	c := r.PathValue("c")
	if !balance.ValidID.MatchString(c) || r.Header.Get(mesh.HeaderCustomer) != c {
		return mesh.Errorf(403, "forbidden", "not your feed")
	}
	f, err := s.read(r.Context(), c)
	if err != nil {
		return err
	}
	mesh.WriteJSON(w, 200, f)
	return nil
}

// read returns customer's feed from the store, or, when the store fails
// or has not answered within readFeed, the feed last served to them,
// marked stale (store.Hedged). A customer with no feed yet has an empty
// one.
func (s *service) read(ctx context.Context, customer string) (Feed, error) {
	f, stale, err := store.Hedged(ctx, readFeed, func(ctx context.Context) (Feed, error) {
		f := Feed{Customer: customer, Items: []enrichment.Event{}}
		_, err := store.GetJSON(ctx, s.kv, customer, &f)
		return f, err
	}, func() (Feed, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		f, ok := s.served[customer]
		return f, ok
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return f, nil // the empty feed the read began with
	case err != nil:
		return Feed{}, err
	case stale:
		f.Stale = true
		return f, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.served) >= maxServed {
		clear(s.served)
	}
	s.served[customer] = f
	return f, nil
}
