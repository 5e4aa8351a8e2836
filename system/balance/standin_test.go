package balance

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/transactions"
)

// memLedger is the ledger's append contract in memory: conditional on the
// account's last sequence, deduplicated by key, checked by the ledger's
// own rules for a chain (a debit below the limit is refused unless it
// posts a stand-in approval).
type memLedger struct {
	mu      sync.Mutex
	entries []transactions.Entry
}

func (l *memLedger) last(account string) (transactions.Entry, bool) {
	for i := len(l.entries) - 1; i >= 0; i-- {
		if l.entries[i].Account == account {
			return l.entries[i], true
		}
	}
	return transactions.Entry{}, false
}

func (l *memLedger) serve(t *testing.T) *mesh.Client {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ledger/accounts/{id}/last", func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		defer l.mu.Unlock()
		e, ok := l.last(r.PathValue("id"))
		if !ok {
			mesh.WriteError(w, mesh.Errorf(http.StatusNotFound, "not_found", "no account"))
			return
		}
		mesh.WriteJSON(w, http.StatusOK, e)
	})
	mux.HandleFunc("POST /v1/ledger/append", func(w http.ResponseWriter, r *http.Request) {
		var req transactions.AppendRequest
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, e := range l.entries {
			if e.Key == req.Entry.Key {
				mesh.WriteJSON(w, http.StatusOK, transactions.AppendResponse{Duplicate: true, Entry: e})
				return
			}
		}
		prev, _ := l.last(req.Entry.Account)
		e := req.Entry
		switch {
		case prev.Seq != req.ExpectedSeq:
			mesh.WriteError(w, mesh.Errorf(http.StatusConflict, transactions.CodeConflict, "moved on"))
			return
		case e.BalanceAfter != prev.BalanceAfter+e.Amount, e.Amount < 0 && e.BalanceAfter < -e.Limit && !e.StandIn:
			mesh.WriteError(w, mesh.Errorf(http.StatusUnprocessableEntity, "bad_entry", "does not follow"))
			return
		}
		e.Seq = uint64(len(l.entries) + 1)
		l.entries = append(l.entries, e)
		mesh.WriteJSON(w, http.StatusOK, transactions.AppendResponse{Entry: e})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return mesh.NewClient("transactions", mesh.StaticResolver{u.Host}, mesh.NewMetrics("balance-test"))
}

// memBucket is a bucket in memory, answering at once and in order.
type memBucket struct {
	jetstream.KeyValue
	mu   sync.Mutex
	vals map[string][]byte
}

type memEntry struct {
	jetstream.KeyValueEntry
	val []byte
}

func (e memEntry) Value() []byte    { return e.val }
func (e memEntry) Revision() uint64 { return 1 }

func (b *memBucket) Get(_ context.Context, k string) (jetstream.KeyValueEntry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.vals[k]
	if !ok {
		return nil, jetstream.ErrKeyNotFound
	}
	return memEntry{val: v}, nil
}

func (b *memBucket) Create(_ context.Context, k string, v []byte, _ ...jetstream.KVCreateOpt) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.vals[k]; ok {
		return 0, jetstream.ErrKeyExists
	}
	b.vals[k] = v
	return 1, nil
}

func (b *memBucket) Update(ctx context.Context, k string, v []byte, _ uint64) (uint64, error) {
	return b.Put(ctx, k, v)
}

func (b *memBucket) Put(_ context.Context, k string, v []byte) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.vals[k] = v
	return 1, nil
}

// TestStandInApprovalsArePostedOnce posts stand-in approvals on an account
// with £10 and no overdraft, over what earlier attempts left under their
// keys, and audits the result: every approval has exactly one debit, the
// one past the funds goes below the limit as a stand-in, repeats post
// nothing, and the outcome store says approved.
func TestStandInApprovalsArePostedOnce(t *testing.T) {
	l := &memLedger{entries: []transactions.Entry{{Key: "open:a1", Account: "a1", Customer: "c1", Amount: 1000, BalanceAfter: 1000,
		Kind: transactions.KindOpening, Counterparty: "external:opening", Ref: "open:a1", Seq: 1},
		{Key: "open:a2", Account: "a2", Customer: "c2", Amount: 1000, BalanceAfter: 1000,
			Kind: transactions.KindOpening, Counterparty: "external:opening", Ref: "open:a2", Seq: 2}}}
	idem := &memBucket{vals: map[string][]byte{}}
	s := &service{p: &process.Process{Log: slog.New(slog.DiscardHandler)}, ledger: l.serve(t), proj: &memBucket{vals: map[string][]byte{}}, idem: idem}
	ctx := context.Background()
	auth := func(msg string, amount int64) ReserveRequest {
		return ReserveRequest{Key: "auth:" + msg, Account: "a1", Amount: -amount, Kind: transactions.KindCard,
			Counterparty: "merchant:m1", Ref: msg, Merchant: &transactions.Merchant{ID: "m1"}}
	}

	// m1: nothing under the key. m2: the original attempt applied. m3: it
	// was declined for funds. m4: it applied and a void reversed it. m5:
	// past the funds.
	_, err := s.reserve(ctx, auth("m2", 200))
	require.NoError(t, err)
	_, err = s.reserve(ctx, auth("m3", 5000))
	require.NoError(t, err)
	_, err = s.reserve(ctx, auth("m4", 100))
	require.NoError(t, err)
	_, err = s.void(ctx, VoidRequest{Key: "auth:m4", Account: "a1", Ref: "m4"})
	require.NoError(t, err)
	for range 2 { // a repeat posts nothing more
		for _, m := range []struct {
			msg    string
			amount int64
		}{{"m1", 300}, {"m2", 200}, {"m3", 5000}, {"m4", 100}, {"m5", 900}} {
			o, err := s.postStandIn(ctx, auth(m.msg, m.amount))
			require.NoError(t, err, m.msg)
			require.Equal(t, CodeApproved, o.Code, m.msg)
			got, ok, err := s.outcome(ctx, "auth:"+m.msg)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, Approved, got.Status, m.msg)
		}
	}

	a := transactions.AuditEntries(l.entries)
	require.True(t, a.OK, "problems: %v", a.Problems)
	for _, m := range []struct {
		msg    string
		amount int64
	}{{"m1", 300}, {"m2", 200}, {"m3", 5000}, {"m4", 100}, {"m5", 900}} {
		ref := a.Refs[m.msg]
		require.Equal(t, -m.amount, ref.Net, m.msg)
		if m.msg == "m4" { // its reversed original, and the stand-in posting
			require.Equal(t, 2, ref.Debits, m.msg)
			require.True(t, ref.StandIn)
			continue
		}
		require.Equal(t, 1, ref.Debits, m.msg)
	}
	// m2's debit was the original's; the others are stand-in postings, two
	// of them under keys of their own. 1000-200-300-5000-100-900 = -5500.
	require.Equal(t, 4, a.StandIn.Posted)
	require.Equal(t, int64(5500), a.StandIn.Overdrawn)
	require.Equal(t, int64(-5500), a.Balances["a1"])
	require.Equal(t, int64(1000), a.Balances["a2"])
	var own []string
	for _, e := range l.entries {
		if e.StandIn && e.Key != "auth:"+e.Ref {
			own = append(own, e.Key)
		}
	}
	require.ElementsMatch(t, []string{"auth:m3" + StandInSuffix, "auth:m4" + StandInSuffix}, own)

	// A key that holds another account's authorisation is not this one's.
	other := auth("m2", 200)
	other.Account = "a2"
	_, err = s.postStandIn(ctx, other)
	var me *mesh.Error
	require.ErrorAs(t, err, &me)
	require.Equal(t, CodeKeyReused, me.Code)
}
