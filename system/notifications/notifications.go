// Package notifications is the deferred push-notification worker, in the
// manner of an APNs client: one notification per customer event, never two
// (deduplicated by event key in its own bucket), sent when it catches up.
package notifications

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/faultline/faultline/system/enrichment"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// lanes is how many events are notified at once.
const lanes = 4

type service struct {
	p       *process.Process
	sent    jetstream.KeyValue
	counter prometheus.Counter
	dupes   prometheus.Counter
}

// Setup wires notifications into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketNotified)
	if err != nil {
		return err
	}
	if _, err := store.EnsureStream(ctx, p.JS, store.EventsStream); err != nil {
		return err
	}
	s := &service{p: p, sent: kv,
		counter: prometheus.NewCounter(prometheus.CounterOpts{Name: "bank_notifications_sent_total", Help: "Push notifications sent."}),
		dupes:   prometheus.NewCounter(prometheus.CounterOpts{Name: "bank_notifications_deduplicated_total", Help: "Events already notified."}),
	}
	_ = p.Metrics.Registry.Register(s.counter)
	_ = p.Metrics.Registry.Register(s.dupes)
	p.Handle("GET /v1/notifications/{customer}/count", s.count)
	// In lanes, as enrichment and the feed generator: a notification is a
	// store round trip (its record), and one at a time leaves little to
	// spare under the sweep's load.
	p.Go(func(ctx context.Context) {
		p.ConsumeDeferred(ctx, store.EventsStream, "notifications", "", lanes, s.notify)
	})
	return nil
}

func (s *service) notify(ctx context.Context, m jetstream.Msg) error {
	var ev enrichment.Event
	if err := json.Unmarshal(m.Data(), &ev); err != nil || ev.Customer == "" {
		return nil
	}
	key := fmt.Sprintf("%s.%x", ev.Customer, sha256.Sum256([]byte(ev.Key)))
	if _, err := s.sent.Create(ctx, key, m.Data()); err != nil {
		if store.IsConflict(err) {
			s.dupes.Inc()
			return nil
		}
		return err
	}
	s.counter.Inc()
	s.p.Log.Debug("push", "customer", ev.Customer, "text", ev.Description, "amount", ev.Amount)
	return nil
}

func (s *service) count(w http.ResponseWriter, r *http.Request) error {
	lister, err := s.sent.ListKeysFiltered(r.Context(), r.PathValue("customer")+".*")
	if err != nil {
		return err
	}
	n := 0
	for range lister.Keys() {
		n++
	}
	mesh.WriteJSON(w, 200, map[string]int{"sent": n})
	return nil
}
