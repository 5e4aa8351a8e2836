// Package transactions is the bank's ledger: an append-only, replicated
// stream of money movements, one subject per account. Appends are
// conditional (the caller names the account's last sequence it saw) and
// idempotent (the entry's key is the message ID, so a retried append is
// stored once). It serves the last entry of an account and the audit that
// proves no money was created, destroyed or applied twice.
//
// It makes no funds decisions: the balance service does, and is the only
// caller of Append.
package transactions

import "time"

// Kinds of ledger entry.
const (
	KindOpening     = "opening"      // opening balance, external counterparty
	KindCard        = "card"         // card spend, settles to a merchant (external)
	KindCardVoid    = "card-void"    // zero-amount marker: this authorisation must not apply
	KindDeclined    = "declined"     // zero-amount marker: this key was declined and must stay so
	KindCardReverse = "card-reverse" // credit that reverses an applied authorisation
	KindTransferOut = "transfer-out" // debit of a payment; matched by one transfer-in
	KindTransferIn  = "transfer-in"  // credit of a payment
)

// Merchant is the card network's description of a merchant.
type Merchant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	MCC  string `json:"mcc,omitempty"`
}

// Entry is one ledger entry. Amounts are in minor units (pence); a debit is
// negative.
type Entry struct {
	Key          string    `json:"key"` // unique idempotency key, the message ID
	Account      string    `json:"account"`
	Customer     string    `json:"customer"`
	Amount       int64     `json:"amount"`
	BalanceAfter int64     `json:"balance_after"`
	Limit        int64     `json:"limit"` // overdraft limit: balance may go down to -Limit
	Kind         string    `json:"kind"`
	Counterparty string    `json:"counterparty,omitempty"` // account id, or merchant:<id>, or external:<what>
	Ref          string    `json:"ref,omitempty"`          // the client's idempotency key (auth message id, payment key)
	Merchant     *Merchant `json:"merchant,omitempty"`
	// StandIn marks a card debit card-api approved alone while the card
	// path's store was unavailable, posted when it came back (docs/BANK.md,
	// "Stand-in"). The approval was given within card-api's caps, so the
	// debit is posted even where it takes the account below its limit.
	StandIn bool      `json:"stand_in,omitempty"`
	Time    time.Time `json:"time"`
	Seq     uint64    `json:"seq,omitempty"` // stream sequence, set on read
}

// AppendRequest appends Entry if the account's last sequence is still
// ExpectedSeq (0: the account has no entry yet).
type AppendRequest struct {
	Entry       Entry  `json:"entry"`
	ExpectedSeq uint64 `json:"expected_seq"`
}

// AppendResponse is the stored entry: the new one, or on Duplicate the one
// stored earlier under the same key.
type AppendResponse struct {
	Duplicate bool  `json:"duplicate"`
	Entry     Entry `json:"entry"`
}

// Error codes of the ledger API.
const (
	CodeConflict = "conflict" // 409: the account moved on; read the last entry and try again
	CodeNoEntry  = "no_entry" // 404: the account has no entry
)
