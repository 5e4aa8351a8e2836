package transactions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/store"
)

// RefSummary is what the ledger holds for one client idempotency key (an
// authorisation's message id or a payment's key).
type RefSummary struct {
	// Debits counts card or transfer-out entries: 0 or 1, or 2 when the
	// second posts a stand-in approval over an earlier attempt's debit
	// that a void reverses (then Net must come to one debit).
	Debits int   `json:"debits"`
	Debit  int64 `json:"debit,omitempty"` // the first debit's amount (negative)
	// Account is the first debit's account.
	Account string `json:"account,omitempty"`
	Net     int64  `json:"net"` // card + card-reverse (or transfer-out) amounts
	Voided  bool   `json:"voided,omitempty"`
	StandIn bool   `json:"stand_in,omitempty"` // a stand-in approval was posted for it
}

// Audit is the ledger's proof that no money was created, destroyed or
// applied twice.
type Audit struct {
	OK        bool   `json:"ok"`
	Entries   int    `json:"entries"`
	Accounts  int    `json:"accounts"`
	LastSeq   uint64 `json:"last_seq"`
	Total     int64  `json:"total"`     // sum of every account's balance
	Opening   int64  `json:"opening"`   // sum of opening balances
	External  int64  `json:"external"`  // card spend net of reversals (to merchants)
	InFlight  int64  `json:"in_flight"` // transfers debited but not yet credited
	Unsettled int    `json:"unsettled"` // transfers debited but not yet credited
	// Stand-in approvals (Entry.StandIn): those posted, their total (pence),
	// how many took an account below its limit and the furthest below it
	// one went (pence). Those still in card-api's journals, not yet posted,
	// are outside the ledger and its sums, as InFlight is inside them.
	StandIn      StandInSummary `json:"stand_in"`
	Problems     []string       `json:"problems,omitempty"` // first violations, human readable
	ProblemCount int            `json:"problem_count"`
	// Gone says the ledger itself does not exist: the store lost the
	// stream (a power failure before its first fsync can). The audit is
	// then of nothing, and not OK: every entry ever written is missing.
	Gone bool `json:"gone,omitempty"`

	Balances map[string]int64      `json:"balances,omitempty"` // ?detail=1
	Refs     map[string]RefSummary `json:"refs,omitempty"`     // ?detail=1
}

// StandInSummary is what an audit found of stand-in approvals.
type StandInSummary struct {
	Posted       int   `json:"posted"`
	PostedAmount int64 `json:"posted_amount"`
	BelowLimit   int   `json:"below_limit"`
	Overdrawn    int64 `json:"overdrawn"` // the most an account went below its limit (pence)
	// Pending counts the stand-in answers not yet settled (approvals not
	// yet debited, declines not yet voided): the records left in the
	// fullest journal. Read from the journals, not the ledger
	// (AuditEntries leaves it zero).
	Pending int `json:"pending"`
}

func (s *service) audit(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := s.run(ctx)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("detail") == "" {
		a.Balances, a.Refs = nil, nil
	}
	mesh.WriteJSON(w, http.StatusOK, a)
	return nil
}

// Reading the ledger: batches of fetchBatch entries, each fetch waiting at
// most fetchWait.
const (
	fetchBatch = 1000
	fetchWait  = 2 * time.Second
)

// run reads the whole ledger in order and audits it (see AuditEntries).
func (s *service) run(ctx context.Context) (*Audit, error) {
	info, err := s.stream.Info(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return goneAudit(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger info: %w", err)
	}
	pending, err := standInPending(ctx, s.p.JS)
	if err != nil {
		return nil, err
	}
	if info.State.Msgs == 0 {
		return &Audit{OK: true, LastSeq: info.State.LastSeq, Balances: map[string]int64{}, Refs: map[string]RefSummary{},
			StandIn: StandInSummary{Pending: pending}}, nil
	}
	cons, err := s.p.JS.OrderedConsumer(ctx, store.LedgerStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	au := newAuditor()
	err = readLedger(ctx, info.State, cons, func(seq uint64, data []byte) {
		var e Entry
		if err := json.Unmarshal(data, &e); err != nil {
			au.a.problem("entry %d is not JSON: %v", seq, err)
			return
		}
		au.add(e)
	})
	if err != nil {
		return nil, err
	}
	a := au.finish()
	a.LastSeq = info.State.LastSeq
	a.StandIn.Pending = pending
	return &a, nil
}

// standInPending returns how many records the fullest stand-in journal
// holds (each journal holds a copy of every record, and settlement
// removes each copy; a journal that does not exist holds none).
func standInPending(ctx context.Context, js jetstream.JetStream) (int, error) {
	most := 0
	for _, j := range store.StandInJournals() {
		st, err := js.Stream(ctx, j.Stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("stand-in journal %s: %w", j.Stream, err)
		}
		most = max(most, int(st.CachedInfo().State.Msgs))
	}
	return most, nil
}

// goneAudit is the audit of a ledger the store no longer has.
func goneAudit() *Audit {
	return &Audit{Gone: true, ProblemCount: 1, Balances: map[string]int64{}, Refs: map[string]RefSummary{},
		Problems: []string{"the ledger (stream " + store.LedgerStream + ") does not exist: the store lost it, and every entry with it"}}
}

// fetcher is what the audit needs of an ordered consumer of the ledger.
type fetcher interface {
	Fetch(batch int, opts ...jetstream.FetchOpt) (jetstream.MessageBatch, error)
}

// maxEmptyFetches is how many fetches in a row may bring nothing before
// the audit gives up on reading the rest of the ledger.
const maxEmptyFetches = 3

// readLedger hands add every entry of the ledger as state describes it, in
// stream order, from src: those up to state.LastSeq, ignoring any appended
// since. It fails unless it read exactly the state.Msgs entries the stream
// held (deleted entries are not in Msgs), so that a read cut short is an
// error, never a clean audit of part of the ledger.
func readLedger(ctx context.Context, state jetstream.StreamState, src fetcher, add func(seq uint64, data []byte)) error {
	var read, last uint64
	for empty := 0; last < state.LastSeq && read < state.Msgs; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read ledger after seq %d of %d: %w", last, state.LastSeq, err)
		}
		batch, err := src.Fetch(fetchBatch, jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			return fmt.Errorf("read ledger after seq %d of %d: %w", last, state.LastSeq, err)
		}
		n, past := 0, false
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("read ledger after seq %d: metadata: %w", last, err)
			}
			seq := md.Sequence.Stream
			switch {
			case seq > state.LastSeq: // appended after the audit began
				past = true
				continue
			case seq <= last:
				return fmt.Errorf("read ledger: seq %d after seq %d", seq, last)
			}
			read, last = read+1, seq
			add(seq, m.Data())
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("read ledger after seq %d of %d: %w", last, state.LastSeq, err)
		}
		if past {
			break
		}
		if empty = empty + 1; n > 0 {
			empty = 0
		}
		if empty == maxEmptyFetches {
			return fmt.Errorf("read ledger: nothing after seq %d of %d in %d fetches", last, state.LastSeq, empty)
		}
	}
	if read != state.Msgs {
		return fmt.Errorf("read ledger: read %d entries up to seq %d, the stream held %d (seq %d-%d, %d deleted)",
			read, last, state.Msgs, state.FirstSeq, state.LastSeq, state.NumDeleted)
	}
	return nil
}
