package balance

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/transactions"
)

type service struct {
	p      *process.Process
	ledger *mesh.Client
	proj   jetstream.KeyValue   // account -> Balance
	copy   *store.Copy[Balance] // the projection, for reads while neither it nor the ledger answers
	idem   jetstream.KeyValue   // key -> Outcome
	turns  accountQueue         // one write at a time to each account
}

// Setup wires the balance service into p.
func Setup(ctx context.Context, p *process.Process) error {
	ledger, err := p.Client("transactions")
	if err != nil {
		return err
	}
	proj, err := p.KV(ctx, store.BucketBalance)
	if err != nil {
		return err
	}
	idem, err := p.KV(ctx, store.BucketBalanceIdm)
	if err != nil {
		return err
	}
	if _, err := store.EnsureStream(ctx, p.JS, store.LedgerStream); err != nil {
		return err
	}
	s := &service{p: p, ledger: ledger, proj: proj, copy: store.NewCopy[Balance](), idem: idem}
	p.Go(func(ctx context.Context) { s.copy.Keep(ctx, proj, p.Log) })
	p.Handle("POST /v1/reserve", s.serveReserve)
	p.Handle("POST /v1/void", s.serveVoid)
	p.Handle("POST /v1/standin", s.serveStandIn)
	p.Handle("GET /v1/accounts/{id}/balance", s.serveBalance)
	p.Go(func(ctx context.Context) {
		p.Consume(ctx, store.LedgerStream, "balance-projection", "", s.project)
	})
	return nil
}

func (s *service) serveReserve(w http.ResponseWriter, r *http.Request) error {
	var req ReserveRequest
	if err := mesh.Decode(r, &req); err != nil {
		return err
	}
	if err := validateReserve(req); err != nil {
		return err
	}
	out, err := s.reserve(r.Context(), req)
	if err != nil {
		return err
	}
	mesh.WriteJSON(w, http.StatusOK, out)
	return nil
}

// reserve applies req once: a key seen before returns its first outcome,
// if the request is the same (a retry), and is refused with CodeKeyReused
// if it is not. A declined key is written to the ledger as a zero-amount
// marker, so that the ledger's deduplication decides every key exactly
// once, even when a retry races the first attempt.
//
// The outcome store is a shortcut, not the truth: when it cannot be read,
// the ledger's deduplication (store.DedupWindow) still gives a retry the
// entry first written under its key. The one thing only the outcome store
// knows is that a void undid an approval, so a retry that finds an applied
// authorisation in the ledger while the outcome store is away gets an
// error (the network retries) rather than an approval that may be undone.
func (s *service) reserve(ctx context.Context, req ReserveRequest) (Outcome, error) {
	d := digest(req)
	o, ok, err := s.outcome(ctx, req.Key)
	switch {
	case ok && o.Digest != "" && o.Digest != d:
		return Outcome{}, keyReused(req.Key)
	case ok:
		return o, nil
	case err != nil:
		s.p.Log.Warn("outcome store unavailable; the ledger decides", "key", req.Key, "err", err)
	}
	unread := err != nil
	e := transactions.Entry{Key: req.Key, Account: req.Account, Amount: req.Amount, Kind: req.Kind,
		Counterparty: req.Counterparty, Ref: req.Ref, Merchant: req.Merchant}
	stored, dup, err := s.apply(ctx, e, func(cur Balance) bool {
		return req.Amount > 0 || cur.Balance+req.Amount >= -cur.Limit
	})
	if err != nil {
		return Outcome{}, err
	}
	switch {
	case dup && !sameRequest(req, stored):
		return Outcome{}, keyReused(req.Key)
	case dup && unread && stored.Kind == transactions.KindCard:
		return Outcome{}, fmt.Errorf("outcome of %s unknown: the outcome store is unavailable and a void may have reversed the authorisation the ledger holds", req.Key)
	}
	o = outcomeOf(stored)
	o.Digest = d
	s.remember(o)
	return o, nil
}

// outcomeOf says what a stored entry means for its key.
func outcomeOf(e transactions.Entry) Outcome {
	o := Outcome{Key: e.Key, Status: Approved, Code: CodeApproved, BalanceAfter: e.BalanceAfter, Seq: e.Seq}
	switch e.Kind {
	case transactions.KindDeclined:
		o.Status, o.Code = Declined, CodeInsufficientFunds
	case transactions.KindCardVoid:
		o.Status, o.Code = Declined, CodeIssuerUnavailable
	}
	return o
}

// Bounds on the balance service's shortcuts: the outcome store and the
// projection, which only save a trip to the ledger. Their buckets elect
// leaders of their own, and while one does, a read or write there gets no
// reply at all; unbounded, it would spend the whole request's deadline
// waiting and fail a reserve the ledger could have decided. A read that
// runs out falls through to the ledger; a write that does is repaired
// (the projection by its ledger consumer, the outcome store by the
// ledger's deduplication).
const (
	shortcutRead  = 100 * time.Millisecond
	shortcutWrite = 250 * time.Millisecond
)

// readLedger bounds the ledger's part of a balance read: past it (the
// ledger's leader lost, an election under way) the read is answered from
// the replica's copy of the projection, marked stale.
const readLedger = 300 * time.Millisecond

// outcome returns the remembered outcome of key, or an error when the
// outcome store does not answer within shortcutRead.
func (s *service) outcome(ctx context.Context, key string) (Outcome, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, shortcutRead)
	defer cancel()
	kv, err := s.idem.Get(ctx, idemKey(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Outcome{}, false, nil
	}
	if err != nil {
		return Outcome{}, false, fmt.Errorf("read outcome of %s: %w", key, err)
	}
	var o Outcome
	if err := json.Unmarshal(kv.Value(), &o); err != nil {
		return Outcome{}, false, err
	}
	return o, true, nil
}

// remember keeps o as the outcome of its key, off the request's path: the
// first outcome wins, and it is best effort, since the ledger's
// deduplication already holds the truth. A void's overwrite, which is not
// best effort, is not delayed by it: it replaces whatever is there.
func (s *service) remember(o Outcome) {
	b, _ := json.Marshal(o)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), shortcutWrite)
		defer cancel()
		_, _ = s.idem.Create(ctx, idemKey(o.Key), b)
	}()
}

// overwrite replaces the outcome of o's key.
func (s *service) overwrite(ctx context.Context, o Outcome) error {
	b, _ := json.Marshal(o)
	if _, err := s.idem.Put(ctx, idemKey(o.Key), b); err != nil {
		return fmt.Errorf("record outcome of %s: %w", o.Key, err)
	}
	return nil
}

// idemKey maps a client key to a valid KV key.
func idemKey(k string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(k))) }
