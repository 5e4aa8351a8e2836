package store

import (
	"context"
	"errors"
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

// EnsureKV creates a replicated KV bucket, or binds to the one there, and
// returns it reading from its stream's leader.
//
// A bucket is created allowing direct gets, which any replica answers, a
// follower from behind the latest write: a service that reads back what it
// has just written (balance reads the projection its last append moved on)
// would now and then see the older value. EnsureKV turns direct gets off on
// the bucket's stream and refreshes the configuration the returned bucket's
// reads go by. It never recreates an existing bucket: CreateKeyValue on
// one turns direct gets back on.
func EnsureKV(ctx context.Context, js jetstream.JetStream, bucket string) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Replicas: Replicas(), History: 1})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("ensure bucket %s: %w", bucket, err)
	}
	for range 5 {
		// Status refreshes the stream configuration kv's reads consult.
		st, err := kv.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("ensure bucket %s: %w", bucket, err)
		}
		bs, ok := st.(*jetstream.KeyValueBucketStatus)
		if !ok {
			return nil, fmt.Errorf("ensure bucket %s: status of type %T has no stream configuration", bucket, st)
		}
		cfg := bs.StreamInfo().Config
		if !cfg.AllowDirect && cfg.Replicas == Replicas() {
			return kv, nil
		}
		cfg.AllowDirect, cfg.Replicas = false, Replicas()
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("ensure bucket %s reads from its leader: %w", bucket, err)
		}
	}
	return nil, fmt.Errorf("ensure bucket %s: its stream keeps allowing direct gets", bucket)
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
