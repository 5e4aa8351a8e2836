package balance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/transactions"
)

const maxConflicts = 16

// apply appends e to the account's ledger with optimistic concurrency: it
// starts from the projection's view of the account and, when the ledger
// says the account moved on (another replica wrote), reads the ledger's last
// entry and tries again. Within this replica, writes to one account take
// turns (accountQueue), so the projection it starts from is the one its
// predecessor left.
// When allow refuses the current balance, a zero-amount KindDeclined marker
// is appended under e's key instead. It returns the stored entry, which is
// the earlier one when the key was already in the ledger (dup).
func (s *service) apply(ctx context.Context, e transactions.Entry, allow func(Balance) bool) (stored transactions.Entry, dup bool, err error) {
	done, err := s.turns.wait(ctx, e.Account)
	if err != nil {
		return transactions.Entry{}, false, err
	}
	turn := done // released here, unless the projection's update takes it over
	defer func() {
		if turn != nil {
			turn()
		}
	}()
	cur, err := s.current(ctx, e.Account, false)
	if err != nil {
		return transactions.Entry{}, false, err
	}
	for range maxConflicts {
		try := e
		if !allow(cur) {
			try.Amount, try.Kind, try.Merchant = 0, transactions.KindDeclined, nil
		}
		try.BalanceAfter, try.Limit, try.Customer = cur.Balance+try.Amount, cur.Limit, cur.Customer
		var resp transactions.AppendResponse
		err := s.ledger.Do(ctx, mesh.Call{Method: http.MethodPost, Path: "/v1/ledger/append", IdempotencyKey: e.Key,
			Body: transactions.AppendRequest{Entry: try, ExpectedSeq: cur.Seq}}, &resp)
		var me *mesh.Error
		if errors.As(err, &me) && me.Code == transactions.CodeConflict {
			if cur, err = s.current(ctx, e.Account, true); err != nil {
				return transactions.Entry{}, false, err
			}
			continue
		}
		if err != nil {
			return transactions.Entry{}, false, fmt.Errorf("append %s: %w", e.Key, err)
		}
		// The entry is in the ledger: the answer does not wait for the
		// projection's update, but the account's next writer here does, so
		// that it starts from the balance this one left.
		turn = nil
		go func() {
			defer done()
			_ = s.store(context.Background(), resp.Entry)
		}()
		return resp.Entry, resp.Duplicate, nil
	}
	return transactions.Entry{}, false, mesh.Errorf(http.StatusServiceUnavailable, "contention", "account %s too busy", e.Account)
}

// current returns the account's balance and last ledger sequence, from the
// projection or, when fresh is set or the projection has no entry, from
// the ledger.
func (s *service) current(ctx context.Context, account string, fresh bool) (Balance, error) {
	if !fresh {
		if b, err := s.projected(ctx, account); err == nil {
			return b, nil
		}
	}
	var e transactions.Entry
	err := s.ledger.Do(ctx, mesh.Call{Method: http.MethodGet, Path: "/v1/ledger/accounts/" + account + "/last"}, &e)
	var me *mesh.Error
	if errors.As(err, &me) && me.Status == http.StatusNotFound {
		return Balance{}, mesh.Errorf(http.StatusNotFound, "unknown_account", "account %s does not exist", account)
	}
	if err != nil {
		return Balance{}, fmt.Errorf("read ledger of %s: %w", account, err)
	}
	go func() { _ = s.store(context.Background(), e) }() // a shortcut for later; never moves it back
	return balanceOf(e), nil
}

func balanceOf(e transactions.Entry) Balance {
	return Balance{Account: e.Account, Customer: e.Customer, Balance: e.BalanceAfter, Limit: e.Limit, Currency: "GBP", Seq: e.Seq}
}

// projected returns the projection's view of account, or an error when it
// has none or does not answer within shortcutRead.
func (s *service) projected(ctx context.Context, account string) (Balance, error) {
	ctx, cancel := context.WithTimeout(ctx, shortcutRead)
	defer cancel()
	kv, err := s.proj.Get(ctx, account)
	if err != nil {
		return Balance{}, err
	}
	var b Balance
	if err := json.Unmarshal(kv.Value(), &b); err != nil {
		return Balance{}, err
	}
	return b, nil
}

// store moves the projection of e's account forward to e, never back,
// spending at most shortcutWrite on it. An error says the projection may
// still be behind e.
func (s *service) store(ctx context.Context, e transactions.Entry) error {
	if e.Seq == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, shortcutWrite)
	defer cancel()
	b, _ := json.Marshal(balanceOf(e))
	var err error
	for range 5 {
		var kv jetstream.KeyValueEntry
		kv, err = s.proj.Get(ctx, e.Account)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if _, err = s.proj.Create(ctx, e.Account, b); err == nil {
				return nil
			}
		case err != nil:
			return err
		default:
			var old Balance
			if json.Unmarshal(kv.Value(), &old) == nil && old.Seq >= e.Seq {
				return nil
			}
			if _, err = s.proj.Update(ctx, e.Account, b, kv.Revision()); err == nil {
				return nil
			}
		}
	}
	return err
}

// project is the ledger consumer that keeps the projection up to date.
// apply already moves it forward after each append it makes; the consumer
// covers what apply cannot: entries written by the seeder, and an append
// whose process died before it updated the projection.
func (s *service) project(ctx context.Context, m jetstream.Msg) error {
	var e transactions.Entry
	if err := json.Unmarshal(m.Data(), &e); err != nil {
		return nil // not ours to fix; the audit reports it
	}
	md, err := m.Metadata()
	if err != nil {
		return err
	}
	e.Seq = md.Sequence.Stream
	return s.store(ctx, e) // redelivered until the projection has it
}
