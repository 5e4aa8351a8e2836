// Package seed creates the bank's customers deterministically: for a given
// count and seed, the same customers, accounts, cards and opening balances
// every time, so that runs can be compared. Their session tokens are
// credentials, not data: derived from a secret key the seeder is given
// (per run), never from the public seed. Loading is idempotent, so seeding
// twice is harmless.
package seed

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/accounts"
	"github.com/faultline/faultline/system/cards"
	"github.com/faultline/faultline/system/edge"
	"github.com/faultline/faultline/system/merchant"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/transactions"
)

// Customer is one seeded customer and what the load needs to act as them.
type Customer struct {
	ID      string `json:"id"`
	Token   string `json:"token"`
	Account string `json:"account"`
	Card    string `json:"card"`
	Opening int64  `json:"opening"`
	Limit   int64  `json:"limit"`
}

// Data is everything seeded.
type Data struct {
	Seed      int64                   `json:"seed"`
	Customers []Customer              `json:"customers"`
	Merchants []transactions.Merchant `json:"merchants"`
}

// Opening returns the total of the opening balances.
func (d Data) Opening() int64 {
	var t int64
	for _, c := range d.Customers {
		t += c.Opening
	}
	return t
}

var merchantNames = []struct{ name, mcc string }{
	{"Corner Shop", "5411"}, {"Green Grocer", "5499"}, {"Pizza Place", "5812"}, {"Coffee Cart", "5814"},
	{"City Metro", "4111"}, {"Night Cabs", "4121"}, {"Gadget Hut", "5732"}, {"Book Nook", "5942"},
	{"Market Hall", "5411"}, {"Noodle Bar", "5812"}, {"Bike Share", "4111"}, {"Record Store", "5732"},
}

// Opening is the opening balance, in pence, of the i-th customer (from 1).
// Nine in ten hold £10,000-£100,000, enough for about 17 default scenario
// suites of card spend (a suite approves about £550k of the £9.4M that 200
// customers open with); one in ten (i%10 == 7) holds £30, so that
// "insufficient funds" stays a steady share of the answers instead of the
// whole bank running dry.
func Opening(i int) int64 {
	if i%10 == 7 {
		return 3_000
	}
	return 1_000_000 + int64(i%10)*1_000_000
}

// NewKey returns a random key for Generate's tokens.
func NewKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// Generate returns n customers and the merchants they buy from. Each
// customer's session token is an HMAC of their index under key: whoever
// holds the key (the harness that seeds) can act as them; whoever knows
// only the seed cannot. An empty key is replaced by a random one, so that
// the tokens are only known to the caller.
func Generate(n int, seed int64, key []byte) Data {
	if len(key) == 0 {
		key = NewKey()
	}
	d := Data{Seed: seed}
	for i := 1; i <= n; i++ {
		mac := hmac.New(sha256.New, key)
		fmt.Fprintf(mac, "faultline-session-%d", i)
		c := Customer{
			ID:      fmt.Sprintf("c%05d", i),
			Token:   fmt.Sprintf("tk_%x", mac.Sum(nil)[:16]),
			Account: fmt.Sprintf("a%05d", i),
			Card:    fmt.Sprintf("k%05d", i),
			Opening: Opening(i),
		}
		if i%5 == 0 {
			c.Limit = 20_000
		}
		d.Customers = append(d.Customers, c)
	}
	for i, m := range merchantNames {
		d.Merchants = append(d.Merchants, transactions.Merchant{ID: fmt.Sprintf("m%03d", i+1), Name: m.name, MCC: m.mcc})
	}
	return d
}

// Load writes d into the store: accounts, cards, sessions and one opening
// ledger entry per account. Entries that exist already are left alone.
func Load(ctx context.Context, js jetstream.JetStream, d Data) error {
	kvs := map[string]jetstream.KeyValue{}
	for _, b := range []string{store.BucketAccounts, store.BucketCards, store.BucketSessions, store.BucketMerchants} {
		kv, err := store.EnsureKV(ctx, js, b)
		if err != nil {
			return err
		}
		kvs[b] = kv
	}
	if _, err := store.EnsureStream(ctx, js, store.LedgerStream); err != nil {
		return err
	}
	for _, m := range d.Merchants {
		mm := merchant.Merchant{ID: m.ID, Name: m.Name, Category: merchant.Category(m.MCC), Logo: merchant.Logo(m.Name)}
		b, _ := json.Marshal(mm)
		if _, err := kvs[store.BucketMerchants].Create(ctx, m.ID, b); err != nil && !store.IsConflict(err) {
			return fmt.Errorf("seed merchant %s: %w", m.ID, err)
		}
	}
	for _, c := range d.Customers {
		puts := []struct {
			bucket, key string
			v           any
		}{
			{store.BucketAccounts, c.Account, accounts.Account{ID: c.Account, Customer: c.ID, Name: "Current account", Currency: "GBP", Limit: c.Limit}},
			{store.BucketCards, c.Card, cards.Card{ID: c.Card, Account: c.Account, Customer: c.ID, Status: cards.Active, Last4: c.Card[len(c.Card)-4:]}},
			{store.BucketSessions, edge.SessionKey(c.Token), edge.Session{Customer: c.ID, Accounts: []string{c.Account}, Cards: []string{c.Card},
				Expires: time.Now().Add(edge.SessionLife).UTC()}},
		}
		for _, p := range puts {
			b, _ := json.Marshal(p.v)
			if _, err := kvs[p.bucket].Create(ctx, p.key, b); err != nil && !store.IsConflict(err) {
				return fmt.Errorf("seed %s/%s: %w", p.bucket, p.key, err)
			}
		}
		e := transactions.Entry{Key: "open:" + c.Account, Account: c.Account, Customer: c.ID, Amount: c.Opening,
			BalanceAfter: c.Opening, Limit: c.Limit, Kind: transactions.KindOpening, Counterparty: "external:opening",
			Ref: "open:" + c.Account, Time: time.Now().UTC()}
		b, _ := json.Marshal(e)
		_, err := js.Publish(ctx, store.LedgerSubject(c.Account), b, jetstream.WithMsgID(e.Key), jetstream.WithExpectLastSequencePerSubject(0))
		if err != nil && !store.IsConflict(err) {
			return fmt.Errorf("seed opening balance of %s: %w", c.Account, err)
		}
	}
	return nil
}
