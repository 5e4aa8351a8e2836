// Package feed serves each customer's recent transactions, as built by
// feed-generator.
package feed

import (
	"context"
	"errors"
	"net/http"
	"slices"

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

type service struct{ kv jetstream.KeyValue }

// Setup wires the feed service into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketFeed)
	if err != nil {
		return err
	}
	s := &service{kv: kv}
	p.Handle("GET /v1/customers/{c}/feed", s.get)
	return nil
}

func (s *service) get(w http.ResponseWriter, r *http.Request) error {
	c := r.PathValue("c")
	if !balance.ValidID.MatchString(c) || r.Header.Get(mesh.HeaderCustomer) != c {
		return mesh.Errorf(403, "forbidden", "not your feed")
	}
	f := Feed{Customer: c, Items: []enrichment.Event{}}
	if _, err := store.GetJSON(r.Context(), s.kv, c, &f); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	mesh.WriteJSON(w, 200, f)
	return nil
}
