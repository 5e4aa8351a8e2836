// Package accounts is the bank's account service: every account, its owner,
// currency and overdraft limit. Balances live in the balance service.
package accounts

import (
	"context"
	"errors"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// Account is one current account.
type Account struct {
	ID       string `json:"id"`
	Customer string `json:"customer"`
	Name     string `json:"name"`
	Currency string `json:"currency"`
	Limit    int64  `json:"limit"`
}

type service struct{ kv jetstream.KeyValue }

// Setup wires the accounts service into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketAccounts)
	if err != nil {
		return err
	}
	s := &service{kv: kv}
	p.Handle("GET /v1/accounts/{id}", s.get)
	return nil
}

func (s *service) get(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !balance.ValidID.MatchString(id) {
		return mesh.Errorf(400, "bad_account", "invalid account id")
	}
	var a Account
	_, err := store.GetJSON(r.Context(), s.kv, id, &a)
	if errors.Is(err, store.ErrNotFound) {
		return mesh.Errorf(404, "unknown_account", "account %s does not exist", id)
	}
	if err != nil {
		return err
	}
	mesh.WriteJSON(w, 200, a)
	return nil
}
