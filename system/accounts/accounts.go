// Package accounts is the bank's account service: every account, its owner,
// currency and overdraft limit. Balances live in the balance service.
package accounts

import (
	"context"

	"github.com/faultline/faultline/system/balance"
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

// Setup wires the accounts service into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketAccounts)
	if err != nil {
		return err
	}
	p.Handle("GET /v1/accounts/{id}", process.ServeKV(kv, nil, "account", balance.ValidID.MatchString))
	return nil
}
