// Package payments moves money between accounts. The debit is decided and
// written synchronously (through balance); the matching credit is attempted
// at once and, whatever happens to this process, settled later by a ledger
// consumer: the ledger itself is the outbox, so a debit never stays without
// its credit once the queues drain.
package payments

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/accounts"
	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/transactions"
)

// Request is a transfer asked for by a customer.
type Request struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Reference string `json:"reference,omitempty"`
}

// Response is the transfer's outcome.
type Response struct {
	ID     string `json:"id"`
	Status string `json:"status"` // approved | declined
	Code   string `json:"code"`
}

var validKey = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// ValidKey reports whether key is a valid payment idempotency key.
func ValidKey(key string) bool { return validKey.MatchString(key) }

// Ref is the ledger reference of a customer's payment key.
func Ref(customer, key string) string { return customer + "/" + key }

func debitKey(ref string) string  { return "pay:" + ref + ":out" }
func creditKey(ref string) string { return "pay:" + ref + ":in" }

type service struct {
	p        *process.Process
	accounts *mesh.Client
	balance  *mesh.Client
}

// Setup wires payments into p.
func Setup(ctx context.Context, p *process.Process) error {
	ac, err := p.Client("accounts")
	if err != nil {
		return err
	}
	bc, err := p.Client("balance")
	if err != nil {
		return err
	}
	if _, err := store.EnsureStream(ctx, p.JS, store.LedgerStream); err != nil {
		return err
	}
	s := &service{p: p, accounts: ac, balance: bc}
	p.Handle("POST /v1/payments", s.servePayment)
	p.Go(func(ctx context.Context) { p.Consume(ctx, store.LedgerStream, "payments-settler", "", s.settle) })
	return nil
}

func (s *service) servePayment(w http.ResponseWriter, r *http.Request) error {
	customer := r.Header.Get(mesh.HeaderCustomer)
	key := r.Header.Get(mesh.HeaderIdempotency)
	if !balance.ValidID.MatchString(customer) {
		return mesh.Errorf(401, "unauthenticated", "no customer")
	}
	if !validKey.MatchString(key) {
		return mesh.Errorf(400, "bad_idempotency_key", "Idempotency-Key must be 8-64 of [A-Za-z0-9_-]")
	}
	var req Request
	if err := mesh.Decode(r, &req); err != nil {
		return err
	}
	if err := Validate(req); err != nil {
		return err
	}
	from, err := s.account(r.Context(), req.From)
	if err != nil {
		return err
	}
	if from.Customer != customer {
		return mesh.Errorf(403, "forbidden", "account %s is not yours", req.From)
	}
	to, err := s.account(r.Context(), req.To)
	if err != nil {
		return err
	}
	if to.Currency != req.Currency || from.Currency != req.Currency {
		return mesh.Errorf(400, "bad_currency", "accounts are in %s and %s, payment in %s", from.Currency, to.Currency, req.Currency)
	}
	ref := Ref(customer, key)
	var out balance.Outcome
	err = s.balance.Do(r.Context(), mesh.Call{Method: http.MethodPost, Path: "/v1/reserve", IdempotencyKey: debitKey(ref),
		Body: balance.ReserveRequest{Key: debitKey(ref), Account: req.From, Amount: -req.Amount,
			Kind: transactions.KindTransferOut, Counterparty: req.To, Ref: ref}}, &out)
	if err != nil {
		return err
	}
	if out.Status == balance.Approved {
		// Best effort now; the settler guarantees it later.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 300*time.Millisecond)
		_ = s.credit(cctx, req.From, req.To, req.Amount, ref)
		cancel()
	}
	mesh.WriteJSON(w, http.StatusOK, Response{ID: ref, Status: out.Status, Code: out.Code})
	return nil
}

// Validate checks a payment request's fields.
func Validate(req Request) error {
	switch {
	case !balance.ValidID.MatchString(req.From) || !balance.ValidID.MatchString(req.To):
		return mesh.Errorf(400, "bad_account", "from and to must be valid account ids")
	case req.From == req.To:
		return mesh.Errorf(400, "same_account", "cannot pay an account into itself")
	case req.Amount <= 0 || req.Amount > balance.MaxAmount:
		return mesh.Errorf(400, "bad_amount", "amount must be between 1 and %d minor units", balance.MaxAmount)
	case req.Currency != "GBP":
		return mesh.Errorf(400, "bad_currency", "only GBP is supported, got %q", req.Currency)
	case len(req.Reference) > 140:
		return mesh.Errorf(400, "bad_reference", "reference is longer than 140 bytes")
	}
	return nil
}

func (s *service) account(ctx context.Context, id string) (accounts.Account, error) {
	var a accounts.Account
	err := s.accounts.Do(ctx, mesh.Call{Method: http.MethodGet, Path: "/v1/accounts/" + id}, &a)
	return a, err
}

func (s *service) credit(ctx context.Context, from, to string, amount int64, ref string) error {
	return s.balance.Do(ctx, mesh.Call{Method: http.MethodPost, Path: "/v1/reserve", IdempotencyKey: creditKey(ref),
		Body: balance.ReserveRequest{Key: creditKey(ref), Account: to, Amount: amount,
			Kind: transactions.KindTransferIn, Counterparty: from, Ref: ref}}, nil)
}

// settle is the ledger consumer that credits every transfer's debit.
func (s *service) settle(ctx context.Context, m jetstream.Msg) error {
	var e transactions.Entry
	if err := json.Unmarshal(m.Data(), &e); err != nil || e.Kind != transactions.KindTransferOut {
		return nil
	}
	err := s.credit(ctx, e.Account, e.Counterparty, -e.Amount, e.Ref)
	var me *mesh.Error
	if errors.As(err, &me) {
		// A refused credit is never dropped: the debit would stand without
		// it. It stays queued, delivered again with a growing back-off
		// (process.Consume), and the ledger audit counts the transfer as
		// unsettled until it goes through.
		s.p.Log.Error("payment cannot be credited; it stays queued", "ref", e.Ref, "err", err)
	}
	return err
}
