package store

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Streams and buckets, each owned by one service.
const (
	LedgerStream = "LEDGER"  // transactions: append-only ledger, subjects ledger.<account>
	EventsStream = "EVENTS"  // transaction-enrichment: enriched events, subjects events.tx.<customer>
	VoidsStream  = "VOIDS"   // card-processing: work queue of authorisations to void
	SupportStr   = "SUPPORT" // support: chat messages, subjects support.<customer>

	BucketAccounts   = "accounts"
	BucketAnswers    = "card-api-answers" // card-api: the answer given to each network message
	BucketCards      = "cards"
	BucketBalance    = "balance"      // balance: projection of the ledger per account
	BucketBalanceIdm = "balance-idem" // balance: outcome per idempotency key
	BucketSessions   = "edge-sessions"
	BucketMerchants  = "merchants"
	BucketFeed       = "feed"
	BucketNotified   = "notifications-sent"
	BucketEmoji      = "emoji"
	BucketProfile    = "profile"
	BucketPots       = "pots"
)

// DedupWindow is how long the ledger remembers idempotency keys by message
// ID. The balance service also keeps every outcome in BucketBalanceIdm, so a
// retry after the window is still applied at most once.
const DedupWindow = time.Hour

// LedgerSubject is the ledger subject of an account.
func LedgerSubject(account string) string { return "ledger." + account }

// EnsureKV creates or updates a replicated KV bucket.
func EnsureKV(ctx context.Context, js jetstream.JetStream, bucket string) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Replicas: Replicas(), History: 1})
	if err != nil {
		return nil, fmt.Errorf("ensure bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// EnsureStream creates or updates one of the bank's streams.
func EnsureStream(ctx context.Context, js jetstream.JetStream, name string) (jetstream.Stream, error) {
	cfg := jetstream.StreamConfig{Name: name, Replicas: Replicas(), Storage: jetstream.FileStorage}
	switch name {
	case LedgerStream:
		cfg.Subjects = []string{"ledger.>"}
		cfg.Duplicates = DedupWindow
		cfg.AllowDirect = false // reads of the last entry must be from the leader
	case EventsStream:
		cfg.Subjects = []string{"events.>"}
		cfg.Duplicates = DedupWindow
	case VoidsStream:
		cfg.Subjects = []string{"voids.>"}
		cfg.Retention = jetstream.WorkQueuePolicy
		cfg.Duplicates = DedupWindow
	case SupportStr:
		cfg.Subjects = []string{"support.>"}
		cfg.Duplicates = 10 * time.Minute
	default:
		return nil, fmt.Errorf("unknown stream %q", name)
	}
	s, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", name, err)
	}
	return s, nil
}
