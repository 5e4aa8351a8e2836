package transactions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/store"
)

// RefSummary is what the ledger holds for one client idempotency key (an
// authorisation's message id or a payment's key).
type RefSummary struct {
	Debits int   `json:"debits"` // card or transfer-out entries: must be 0 or 1
	Net    int64 `json:"net"`    // card + card-reverse (or transfer-out) amounts
	Voided bool  `json:"voided,omitempty"`
}

// Audit is the ledger's proof that no money was created, destroyed or
// applied twice.
type Audit struct {
	OK           bool     `json:"ok"`
	Entries      int      `json:"entries"`
	Accounts     int      `json:"accounts"`
	LastSeq      uint64   `json:"last_seq"`
	Total        int64    `json:"total"`              // sum of every account's balance
	Opening      int64    `json:"opening"`            // sum of opening balances
	External     int64    `json:"external"`           // card spend net of reversals (to merchants)
	InFlight     int64    `json:"in_flight"`          // transfers debited but not yet credited
	Unsettled    int      `json:"unsettled"`          // transfers debited but not yet credited
	Problems     []string `json:"problems,omitempty"` // first violations, human readable
	ProblemCount int      `json:"problem_count"`

	Balances map[string]int64      `json:"balances,omitempty"` // ?detail=1
	Refs     map[string]RefSummary `json:"refs,omitempty"`     // ?detail=1
}

const maxProblems = 20

func (a *Audit) problem(format string, args ...any) {
	a.ProblemCount++
	if len(a.Problems) < maxProblems {
		a.Problems = append(a.Problems, fmt.Sprintf(format, args...))
	}
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

type accountState struct {
	balance, limit int64
	seen           bool
}

// run reads the whole ledger in order and checks, entry by entry, that each
// balance follows from the previous one, that no balance goes below its
// limit, that no key or debit is applied twice, and that every transfer's
// debit has exactly one matching credit.
func (s *service) run(ctx context.Context) (*Audit, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger info: %w", err)
	}
	a := &Audit{LastSeq: info.State.LastSeq, Balances: map[string]int64{}, Refs: map[string]RefSummary{}}
	if info.State.Msgs == 0 {
		a.OK = true
		return a, nil
	}
	cons, err := s.p.JS.OrderedConsumer(ctx, store.LedgerStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	accts := map[string]*accountState{}
	keys := map[string]bool{}
	outs := map[string]Entry{} // transfer ref -> debit
	ins := map[string]int{}
	for a.LastSeq > 0 {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read ledger: %w", err)
		}
		var last uint64
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			var e Entry
			if err := json.Unmarshal(m.Data(), &e); err != nil {
				a.problem("entry %d is not JSON: %v", md.Sequence.Stream, err)
				continue
			}
			s.check(a, accts, keys, outs, ins, e)
			last = md.Sequence.Stream
		}
		if batch.Error() != nil {
			return nil, fmt.Errorf("read ledger: %w", batch.Error())
		}
		if last >= a.LastSeq || last == 0 {
			break
		}
	}
	for id, st := range accts {
		a.Balances[id] = st.balance
		a.Total += st.balance
	}
	a.Accounts = len(accts)
	for ref, out := range outs {
		switch ins[ref] {
		case 0:
			a.Unsettled++
			a.InFlight += -out.Amount
		case 1:
		default:
			a.problem("payment %s credited %d times", ref, ins[ref])
		}
	}
	if want := a.Opening + a.External; a.Total+a.InFlight != want {
		a.problem("money not conserved: balances %d + in flight %d != opening %d + external %d", a.Total, a.InFlight, a.Opening, a.External)
	}
	sort.Strings(a.Problems)
	a.OK = a.ProblemCount == 0
	return a, nil
}

func (s *service) check(a *Audit, accts map[string]*accountState, keys map[string]bool, outs map[string]Entry, ins map[string]int, e Entry) {
	a.Entries++
	if keys[e.Key] {
		a.problem("key %s applied twice", e.Key)
	}
	keys[e.Key] = true
	st := accts[e.Account]
	if st == nil {
		st = &accountState{}
		accts[e.Account] = st
	}
	if st.seen || e.Kind != KindOpening {
		if want := st.balance + e.Amount; e.BalanceAfter != want {
			a.problem("account %s entry %s: balance_after %d, ledger says %d", e.Account, e.Key, e.BalanceAfter, want)
		}
	}
	st.balance, st.limit, st.seen = e.BalanceAfter, e.Limit, true
	if e.Amount < 0 && e.BalanceAfter < -e.Limit {
		a.problem("account %s below its limit: %d < -%d (entry %s)", e.Account, e.BalanceAfter, e.Limit, e.Key)
	}
	ref := e.Ref
	switch e.Kind {
	case KindOpening:
		a.Opening += e.Amount
	case KindCard:
		a.External += e.Amount
		rs := a.Refs[ref]
		rs.Debits++
		rs.Net += e.Amount
		if rs.Debits > 1 {
			a.problem("authorisation %s applied %d times", ref, rs.Debits)
		}
		a.Refs[ref] = rs
	case KindCardReverse:
		a.External += e.Amount
		rs := a.Refs[ref]
		rs.Net += e.Amount
		a.Refs[ref] = rs
	case KindDeclined:
	case KindCardVoid:
		rs := a.Refs[ref]
		rs.Voided = true
		a.Refs[ref] = rs
	case KindTransferOut:
		if _, dup := outs[ref]; dup {
			a.problem("payment %s debited twice", ref)
		}
		outs[ref] = e
		rs := a.Refs[ref]
		rs.Debits++
		rs.Net += e.Amount
		a.Refs[ref] = rs
	case KindTransferIn:
		ins[ref]++
		if out, ok := outs[ref]; !ok {
			a.problem("payment %s credited before or without its debit", ref)
		} else if out.Amount != -e.Amount || out.Counterparty != e.Account {
			a.problem("payment %s credit %d to %s does not match debit %d to %s", ref, e.Amount, e.Account, out.Amount, out.Counterparty)
		}
	default:
		if !strings.HasPrefix(e.Kind, "x-") {
			a.problem("entry %s has unknown kind %q", e.Key, e.Kind)
		}
	}
}
