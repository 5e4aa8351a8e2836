package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
// retry after the window is still applied at most once, for as long as
// the outcome is kept (IdempotencyLife). The window costs the store memory
// per key (about 1.4 GB a day at the default load if it were a day long),
// so it stays short: it only has to cover retries that race each other
// and an outcome store that is briefly away.
const DedupWindow = time.Hour

// LedgerMaxBytes bounds the ledger's size on each store node: a few
// million entries, well within a node's volume (1 GiB on Kubernetes).
const LedgerMaxBytes = 512 << 20

// IdempotencyLife is how long a key's outcome and a network message's
// answer are kept: a retry within it gets the first outcome, one after it
// is a new request. A card network retries an authorisation for seconds
// (and sends a reversal or advice as a message of its own within days);
// an app retries a payment for minutes. A week is far past both, and
// bounds the buckets: about 25 MB a day at the default load.
const IdempotencyLife = 7 * 24 * time.Hour

// retention bounds each bucket the bank writes without bound: its keys
// live this long after their last write. The others hold one key per
// customer, account, card or merchant.
var retention = map[string]time.Duration{
	BucketAnswers:    IdempotencyLife,
	BucketBalanceIdm: IdempotencyLife,
	BucketNotified:   IdempotencyLife,
	BucketSessions:   25 * time.Hour, // past a seeded session's life (edge.SessionLife)
}

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
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Replicas: Replicas(), History: 1, TTL: retention[bucket]})
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

// EnsureStream creates one of the bank's streams, binds to it if it is
// as the bank wants it, or updates it if not: only the stream's owner may
// (configurers), so a process that only uses the stream fails until its
// owner has set it right.
func EnsureStream(ctx context.Context, js jetstream.JetStream, name string) (jetstream.Stream, error) {
	cfg := jetstream.StreamConfig{Name: name, Replicas: Replicas(), Storage: jetstream.FileStorage}
	switch name {
	case LedgerStream:
		// The book of record: nothing ages out. When it is full it refuses
		// new entries (money stops moving) rather than drop old ones.
		cfg.Subjects = []string{"ledger.>"}
		cfg.Duplicates = DedupWindow
		cfg.AllowDirect = false // reads of the last entry must be from the leader
		cfg.MaxBytes, cfg.Discard = LedgerMaxBytes, jetstream.DiscardNew
	case EventsStream:
		// Deferred work: a month covers any outage of its consumers.
		cfg.Subjects = []string{"events.>"}
		cfg.Duplicates = DedupWindow
		cfg.MaxAge = 30 * 24 * time.Hour
	case VoidsStream:
		// A void is never dropped (its authorisation would stay applied):
		// a full queue refuses new voids, and card-api then gives the
		// network no answer, so that it retries.
		cfg.Subjects = []string{"voids.>"}
		cfg.Retention = jetstream.WorkQueuePolicy
		cfg.Duplicates = DedupWindow
		cfg.MaxMsgs, cfg.Discard = 1_000_000, jetstream.DiscardNew
	case SupportStr:
		cfg.Subjects = []string{"support.>"}
		cfg.Duplicates = 10 * time.Minute
		cfg.MaxAge = 90 * 24 * time.Hour
	default:
		var ok bool
		if cfg, ok = standInStream(name); !ok {
			return nil, fmt.Errorf("unknown stream %q", name)
		}
	}
	if s, err := js.Stream(ctx, name); err == nil && sameStream(s.CachedInfo().Config, cfg) {
		return s, nil
	}
	s, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", name, err)
	}
	return s, nil
}

// sameStream reports whether a stream configured as have is as want asks,
// in everything EnsureStream sets (a zero limit is the server's -1).
func sameStream(have, want jetstream.StreamConfig) bool {
	limit := func(n int64) int64 { return max(n, 0) }
	return slices.Equal(have.Subjects, want.Subjects) && have.Replicas == want.Replicas && have.Storage == want.Storage &&
		have.Retention == want.Retention && have.Duplicates == want.Duplicates && have.MaxAge == want.MaxAge &&
		have.AllowDirect == want.AllowDirect && have.Discard == want.Discard &&
		limit(have.MaxBytes) == limit(want.MaxBytes) && limit(have.MaxMsgs) == limit(want.MaxMsgs) &&
		samePlacement(have.Placement, want.Placement)
}

// samePlacement reports whether a stream placed as have is where want
// asks: on the servers with want's tags, or anywhere when want is nil.
func samePlacement(have, want *jetstream.Placement) bool {
	if want == nil {
		return true
	}
	return have != nil && slices.Equal(have.Tags, want.Tags)
}
