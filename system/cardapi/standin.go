package cardapi

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/cards"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// Stand-in processing (docs/BANK.md, "Stand-in").
//
// When card-processing gives no usable answer in time (an error, a
// timeout, "91"), or card-api is shedding load, card-api decides alone, as
// card schemes do for an issuer that cannot answer: from its own copies of
// the cards and the balances (store.Copy), within caps on what it may
// approve that the ledger has not yet seen. It writes the decision to the
// stand-in journal (journal.go) before it answers, and its settlement
// (settle.go) makes the ledger agree with it once the store is back. The
// cause is almost always the store: for the 4-9 s a store leader election
// takes, every stream and bucket the lost node led is unwritable, and the
// card path uses five.
//
// BANK_STANDIN=off turns it off: card-api then declines "91" as before.

// Caps on what one card-api replica approves by stand-in and has not seen
// posted: per authorisation, per account, in all. A replica forgets an
// approval's exposure standInHold after it gave it, by when it is posted
// and in the balances it reads (a store outage lasts seconds). The
// per-account cap is exported: times the replicas, it is the most
// stand-in may take an account below its limit, which the harness holds
// the audit to.
const (
	standInPerAuth    = 100_00    // £100
	StandInPerAccount = 300_00    // £300
	standInTotal      = 50_000_00 // £50,000
	standInHold       = 2 * time.Minute
)

// StandInReason begins the reason given with an answer card-api decided
// alone; the code is the one the decision has ("00", "51", "62", "91").
// StandInShedReason begins it when card-api stood in because it was
// shedding load (admission.go), not because card-processing failed.
const (
	StandInReason     = "stand-in"
	StandInShedReason = StandInReason + ", load shed"
)

// standInOn reports whether stand-in is on (BANK_STANDIN is not "off").
func standInOn() bool { return os.Getenv("BANK_STANDIN") != "off" }

// exposure is what this replica approved by stand-in and has not yet
// forgotten (standInHold), per account and in all.
type exposure struct {
	mu    sync.Mutex
	items []exposed
}

type exposed struct {
	at      time.Time
	account string
	amount  int64
}

// pending returns the exposure on account and in all, as of now.
func (e *exposure) pending(account string, now time.Time) (onAccount, total int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sums(account, now)
}

// take adds amount on account, if it is within the caps, and reports
// whether it was.
func (e *exposure) take(account string, amount int64, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	onAccount, total := e.sums(account, now)
	if amount > standInPerAuth || onAccount+amount > StandInPerAccount || total+amount > standInTotal {
		return false
	}
	e.items = append(e.items, exposed{at: now, account: account, amount: amount})
	return true
}

// sums forgets what is older than standInHold and returns the rest, on
// account and in all. The caller holds e.mu.
func (e *exposure) sums(account string, now time.Time) (onAccount, total int64) {
	e.forget(now)
	for _, it := range e.items {
		total += it.amount
		if it.account == account {
			onAccount += it.amount
		}
	}
	return onAccount, total
}

func (e *exposure) forget(now time.Time) {
	i := 0
	for i < len(e.items) && now.Sub(e.items[i].at) > standInHold {
		i++
	}
	e.items = e.items[i:]
}

// decideAlone is card-api's own decision on req, from its copies of the
// card and of its account's balance (ok false when it has none) and the
// stand-in exposure already on the account: the answer card-processing
// would most likely have given, or "91" when card-api cannot tell or a
// cap forbids an approval. It takes nothing; the caller takes the
// exposure of an approval.
func decideAlone(req cardprocessing.AuthRequest, card cards.Card, cardOK bool, bal balance.Balance, balOK bool, onAccount int64) cardprocessing.AuthResponse {
	resp := cardprocessing.AuthResponse{MessageID: req.MessageID, Code: balance.CodeIssuerUnavailable, Reason: StandInReason + ": issuer unavailable"}
	switch {
	case !cardOK:
		// An unknown card may be one made since the copy was taken.
	case card.Status != cards.Active:
		resp.Code, resp.Reason = cardprocessing.CodeRestricted, StandInReason+": card "+card.Status
	case !balOK || bal.Account != card.Account:
	case req.Amount > standInPerAuth || onAccount+req.Amount > StandInPerAccount:
	case bal.Balance+bal.Limit-onAccount < req.Amount:
		resp.Code, resp.Reason = balance.CodeInsufficientFunds, StandInReason+": insufficient funds"
	default:
		resp.Approved, resp.Code, resp.Reason = true, balance.CodeApproved, StandInReason+": approved"
	}
	return resp
}

// standIn is what a card-api replica stands in with: its copies of the
// cards and balances, the journal, its exposure, and when it last wrote
// the journal.
type standIn struct {
	journal   *journal
	held      atomic.Bool // the journals held records at the last look (watchHeld)
	cards     *store.Copy[cards.Card]
	balances  *store.Copy[balance.Balance]
	exposure  exposure
	lastWrote atomic.Int64 // Unix nanoseconds
	metrics   standInMetrics
}

// standInRecent is how long after this replica last wrote the journal its
// lookups still read it, whatever the journals' size said at the last look.
const standInRecent = 30 * time.Second

// startStandIn makes the journals and the copies stand-in needs, and has p
// run its workers: the copies' watches, the look at the journals' size,
// and settle on every journal's records.
func startStandIn(ctx context.Context, p *process.Process, settle func(context.Context, jetstream.Msg) error) (*standIn, error) {
	cardsKV, err := p.KV(ctx, store.BucketCards)
	if err != nil {
		return nil, err
	}
	balancesKV, err := p.KV(ctx, store.BucketBalance)
	if err != nil {
		return nil, err
	}
	for _, jl := range store.StandInJournals() {
		if _, err := store.EnsureStream(ctx, p.JS, jl.Stream); err != nil {
			return nil, err
		}
	}
	conns, err := store.ConnectEach(p.Store, p.Instance+"-standin", store.Login(p.Service, p.StorePassword))
	if err != nil {
		return nil, err
	}
	j, err := newJournal(conns)
	if err != nil {
		for _, nc := range conns {
			nc.Close()
		}
		return nil, err
	}
	si := &standIn{journal: j, cards: store.NewCopy[cards.Card](), balances: store.NewCopy[balance.Balance]()}
	si.metrics = newStandInMetrics(p.Metrics.Registry, p.Service, &si.exposure)
	p.Go(func(ctx context.Context) {
		<-ctx.Done()
		for _, nc := range conns {
			nc.Close()
		}
	})
	p.Go(func(ctx context.Context) { si.cards.Keep(ctx, cardsKV, p.Log) })
	p.Go(func(ctx context.Context) { si.balances.Keep(ctx, balancesKV, p.Log) })
	p.Go(func(ctx context.Context) { watchHeld(ctx, j, &si.held, time.Second) })
	for _, jl := range j.journals {
		p.Go(func(ctx context.Context) { p.Consume(ctx, jl.Stream, "card-standin", "", settle) })
	}
	return si, nil
}

// mayHold reports whether the journals may hold an answer a lookup must
// find: they held records at the last look, or this replica wrote one
// lately.
func (si *standIn) mayHold() bool {
	return si.held.Load() || time.Since(time.Unix(0, si.lastWrote.Load())) < standInRecent
}

// wrote notes that this replica has just written the journal.
func (si *standIn) wrote() { si.lastWrote.Store(time.Now().UnixNano()) }

// Why card-api stands in.
const (
	whyShed     = "shed"
	whyNoAnswer = "no_answer"
)

// standInFor answers req alone (decideAlone), having written the answer
// to the journal; why is what made card-api stand in, for the log. If the
// journal does not take it, the network gets no answer (503) and sends
// the message again.
func (s *service) standInFor(w http.ResponseWriter, r *http.Request, req cardprocessing.AuthRequest, digest, why string) error {
	si := s.standIn
	ctx := context.WithoutCancel(r.Context())
	now := time.Now()
	card, cardOK := si.cards.Get(req.CardID)
	bal, balOK := si.balances.Get(card.Account)
	onAccount, _ := si.exposure.pending(card.Account, now)
	resp := decideAlone(req, card, cardOK, bal, balOK, onAccount)
	if resp.Approved && !si.exposure.take(card.Account, req.Amount, now) {
		resp = cardprocessing.AuthResponse{MessageID: req.MessageID, Code: balance.CodeIssuerUnavailable, Reason: StandInReason + ": issuer unavailable"}
	}
	resp.Digest = digest
	if why == whyShed {
		resp.Reason = StandInShedReason + strings.TrimPrefix(resp.Reason, StandInReason)
	}
	rec := journalRecord{Request: req, Answer: resp, StandIn: true, Account: card.Account, Replica: s.p.Instance, Time: now}
	if err := si.journal.write(ctx, rec); err != nil {
		s.p.Log.Warn("stand-in answer not journaled", "message_id", req.MessageID, "why", why, "err", err)
		si.metrics.answered(why, notJournaled)
		return mesh.Errorf(http.StatusServiceUnavailable, "answer_not_recorded",
			"the answer to %s could not be recorded; send the message again", req.MessageID)
	}
	si.wrote()
	si.metrics.answered(why, resp.Code)
	s.p.Log.Info("stood in", "message_id", req.MessageID, "why", why, "code", resp.Code, "amount", req.Amount, "account", card.Account)
	// Recorded at once where the store lets it, so that a retry or a void
	// finds it without reading the journal; settlement records it if not.
	// The answer recorded first is the one that stands.
	rctx, cancel := context.WithTimeout(ctx, standInRecordTimeout)
	final, err := s.record(rctx, resp)
	cancel()
	if err != nil {
		final = resp
	}
	give(w, final, digest)
	return nil
}

// standInRecordTimeout bounds the attempt to record a stand-in answer in
// the answers bucket: the journal already holds it.
const standInRecordTimeout = 100 * time.Millisecond
