// Package enrichment is the deferred transaction-enrichment worker. It reads
// the ledger after the fact, records merchants (names, categories, logos) for
// the merchant service and publishes one customer event per money movement
// for the feed and notifications. It is never on a payment's critical path;
// when it is down the ledger keeps its place and it catches up.
package enrichment

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/merchant"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/transactions"
)

// Event is a customer-visible money movement.
type Event struct {
	Key         string    `json:"key"`
	Customer    string    `json:"customer"`
	Account     string    `json:"account"`
	Amount      int64     `json:"amount"`
	Kind        string    `json:"kind"`
	Description string    `json:"description"`
	MerchantID  string    `json:"merchant_id,omitempty"`
	Category    string    `json:"category,omitempty"`
	Time        time.Time `json:"time"`
}

// Subject is the events subject of a customer.
func Subject(customer string) string { return "events.tx." + customer }

type service struct {
	p         *process.Process
	merchants jetstream.KeyValue

	mu      sync.Mutex
	written map[string]written // merchant records this process stored, by ID
}

// written is a merchant record as this process last stored it, and when.
type written struct {
	m  merchant.Merchant
	at time.Time
}

// rewriteAfter is how long a stored merchant record is trusted before an
// unchanged one is written again. A handful of merchants take every card
// payment: without it, every authorisation rewrote the same record in the
// replicated store (about one store write in ten under the suite's load).
const rewriteAfter = time.Minute

// lanes is how many ledger entries are enriched at once.
const lanes = 4

// maxRemembered bounds the merchants remembered; past it the memory starts
// afresh.
const maxRemembered = 10000

// Setup wires transaction-enrichment into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketMerchants)
	if err != nil {
		return err
	}
	for _, st := range []string{store.LedgerStream, store.EventsStream} {
		if _, err := store.EnsureStream(ctx, p.JS, st); err != nil {
			return err
		}
	}
	s := &service{p: p, merchants: kv, written: map[string]written{}}
	// In lanes, one account's entries in order: a handler is a store
	// round trip (the event's publish), and one at a time kept up with the
	// sweep's load (about 50 entries a second on two cores) with little to
	// spare, falling hundreds behind after a fault.
	p.Go(func(ctx context.Context) {
		p.ConsumeDeferred(ctx, store.LedgerStream, "enrichment", "", lanes, s.enrich)
	})
	return nil
}

func (s *service) enrich(ctx context.Context, m jetstream.Msg) error {
	var e transactions.Entry
	if err := json.Unmarshal(m.Data(), &e); err != nil {
		return nil
	}
	ev := Event{Key: e.Key, Customer: e.Customer, Account: e.Account, Amount: e.Amount, Kind: e.Kind, Time: e.Time}
	switch e.Kind {
	case transactions.KindCard, transactions.KindCardReverse:
		if e.Merchant != nil {
			mm := merchant.Merchant{ID: e.Merchant.ID, Name: e.Merchant.Name, Category: merchant.Category(e.Merchant.MCC)}
			mm.Logo = merchant.Logo(mm.Name)
			if err := s.recordMerchant(ctx, mm); err != nil {
				return err
			}
			ev.MerchantID, ev.Category, ev.Description = mm.ID, mm.Category, mm.Name
		}
		if e.Kind == transactions.KindCardReverse {
			ev.Description = "Reversal"
		}
	case transactions.KindTransferOut:
		ev.Description = fmt.Sprintf("Payment to %s", e.Counterparty)
	case transactions.KindTransferIn:
		ev.Description = fmt.Sprintf("Payment from %s", e.Counterparty)
	case transactions.KindOpening:
		ev.Description = "Opening balance"
	default:
		return nil // markers are not customer-visible
	}
	b, _ := json.Marshal(ev)
	_, err := s.p.JS.Publish(ctx, Subject(e.Customer), b, jetstream.WithMsgID("ev:"+e.Key))
	return err
}

// recordMerchant stores m unless this process stored the same record less
// than rewriteAfter ago.
func (s *service) recordMerchant(ctx context.Context, m merchant.Merchant) error {
	s.mu.Lock()
	w, ok := s.written[m.ID]
	s.mu.Unlock()
	if ok && w.m == m && time.Since(w.at) < rewriteAfter {
		return nil
	}
	if err := store.PutJSON(ctx, s.merchants, m.ID, m); err != nil {
		return err
	}
	s.mu.Lock()
	if len(s.written) >= maxRemembered {
		clear(s.written)
	}
	s.written[m.ID] = written{m: m, at: time.Now()}
	s.mu.Unlock()
	return nil
}
