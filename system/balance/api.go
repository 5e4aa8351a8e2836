// Package balance is the bank's funds service: it decides whether money may
// move (funds and limits), is the only writer of money movements to the
// ledger, serves balance reads from its own projection of the ledger, and
// voids authorisations that timed out.
//
// Every write is idempotent by key: the outcome of each key is kept, and the
// ledger stores each key at most once.
package balance

import "github.com/faultline/faultline/system/transactions"

// ReserveRequest moves Amount (negative for a debit) on Account under Key.
type ReserveRequest struct {
	Key          string                 `json:"key"`
	Account      string                 `json:"account"`
	Amount       int64                  `json:"amount"`
	Kind         string                 `json:"kind"`
	Counterparty string                 `json:"counterparty,omitempty"`
	Ref          string                 `json:"ref,omitempty"`
	Merchant     *transactions.Merchant `json:"merchant,omitempty"`
}

// Outcome is the result of a reserve or a void.
type Outcome struct {
	Key          string `json:"key"`
	Status       string `json:"status"` // approved | declined
	Code         string `json:"code"`   // ISO 8583 style response code
	BalanceAfter int64  `json:"balance_after"`
	Seq          uint64 `json:"seq,omitempty"`
	// Digest is the digest of the request that first used the key: a
	// request under the same key with another digest is refused.
	Digest string `json:"digest,omitempty"`
}

// Statuses and response codes.
const (
	Approved = "approved"
	Declined = "declined"

	CodeApproved          = "00"
	CodeInsufficientFunds = "51"
	CodeIssuerUnavailable = "91" // also: the authorisation was voided
)

// VoidRequest makes sure authorisation Key on Account has no effect: if it
// was never applied it never will be; if it was, it is reversed.
type VoidRequest struct {
	Key     string `json:"key"`
	Account string `json:"account"`
	Ref     string `json:"ref,omitempty"`
}

// VoidResponse says what the void did.
type VoidResponse struct {
	Reversed bool `json:"reversed"` // the authorisation had applied and was reversed
}

// Balance is an account's balance as the projection sees it.
type Balance struct {
	Account  string `json:"account"`
	Customer string `json:"customer"`
	Balance  int64  `json:"balance"`
	Limit    int64  `json:"limit"`
	Currency string `json:"currency"`
	Seq      uint64 `json:"seq"`
	// Stale marks a read answered from the replica's copy of the
	// projection while neither the projection nor the ledger answered (a
	// store node lost): the balance as of the copy's last update, which
	// may be seconds behind. Never stored.
	Stale bool `json:"stale,omitempty"`
}

// ValidID matches account, card and customer ids (transactions.ValidID).
var ValidID = transactions.ValidID

// MaxAmount is the largest single movement accepted (one million pounds).
const MaxAmount = 100_000_000
