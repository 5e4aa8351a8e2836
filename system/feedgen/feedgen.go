// Package feedgen is the deferred feed-generator worker: it folds customer
// events into each customer's feed (the newest items first). Deduplicated by
// event key, so redelivery is harmless.
package feedgen

import (
	"context"
	"encoding/json"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/enrichment"
	"github.com/faultline/faultline/system/feed"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

type service struct{ kv jetstream.KeyValue }

// Setup wires feed-generator into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketFeed)
	if err != nil {
		return err
	}
	if _, err := store.EnsureStream(ctx, p.JS, store.EventsStream); err != nil {
		return err
	}
	s := &service{kv: kv}
	p.Go(func(ctx context.Context) { p.ConsumeDeferred(ctx, store.EventsStream, "feed-generator", "", s.fold) })
	return nil
}

func (s *service) fold(ctx context.Context, m jetstream.Msg) error {
	var ev enrichment.Event
	if err := json.Unmarshal(m.Data(), &ev); err != nil || ev.Customer == "" {
		return nil
	}
	_, err := store.UpdateJSON(ctx, s.kv, ev.Customer, true, func(f *feed.Feed) error {
		f.Add(ev)
		return nil
	})
	return err
}
