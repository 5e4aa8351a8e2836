package balance

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/store/storetest"
	"github.com/faultline/faultline/system/transactions"
)

// silentBucket is a bucket whose leader is being elected: every operation
// waits, unanswered, until its caller gives up.
type silentBucket struct {
	jetstream.KeyValue // any other operation is a test failure (nil panic)
	calls              atomic.Int64
}

func (b *silentBucket) wait(ctx context.Context) error {
	b.calls.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

func (b *silentBucket) Get(ctx context.Context, _ string) (jetstream.KeyValueEntry, error) {
	return nil, b.wait(ctx)
}

func (b *silentBucket) Create(ctx context.Context, _ string, _ []byte, _ ...jetstream.KVCreateOpt) (uint64, error) {
	return 0, b.wait(ctx)
}

func (b *silentBucket) Update(ctx context.Context, _ string, _ []byte, _ uint64) (uint64, error) {
	return 0, b.wait(ctx)
}

func (b *silentBucket) Put(ctx context.Context, _ string, _ []byte) (uint64, error) {
	return 0, b.wait(ctx)
}

// fakeLedger answers the two ledger calls a reserve makes: the account's
// last entry, and appends, which it numbers on from it.
func fakeLedger(t *testing.T, last transactions.Entry) (*mesh.Client, *atomic.Int64) {
	var appends atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ledger/accounts/{id}/last", func(w http.ResponseWriter, _ *http.Request) {
		mesh.WriteJSON(w, http.StatusOK, last)
	})
	mux.HandleFunc("POST /v1/ledger/append", func(w http.ResponseWriter, r *http.Request) {
		var req transactions.AppendRequest
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		if req.ExpectedSeq != last.Seq {
			mesh.WriteError(w, mesh.Errorf(http.StatusConflict, transactions.CodeConflict, "moved on"))
			return
		}
		appends.Add(1)
		e := req.Entry
		e.Seq = last.Seq + 1
		mesh.WriteJSON(w, http.StatusOK, transactions.AppendResponse{Entry: e})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return mesh.NewClient("transactions", mesh.StaticResolver{u.Host}, mesh.NewMetrics("balance-test")), &appends
}

// A reserve is decided by the ledger when the outcome store and the
// projection are both electing leaders: the shortcuts give up after
// shortcutRead, and the updates after the append do not hold the answer.
func TestReserveGoesToTheLedgerWhileTheShortcutsAreSilent(t *testing.T) {
	ledger, appends := fakeLedger(t, transactions.Entry{Key: "seed", Account: "acc-1", Customer: "cus-1",
		Kind: transactions.KindTransferIn, Amount: 5000, BalanceAfter: 5000, Seq: 7})
	proj, idem := &silentBucket{}, &silentBucket{}
	s := &service{p: &process.Process{Log: slog.New(slog.DiscardHandler)}, ledger: ledger, proj: proj, idem: idem}

	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond) // card-processing's budget
	defer cancel()
	out, err := s.reserve(ctx, ReserveRequest{Key: "auth:m1", Account: "acc-1", Amount: -1200,
		Kind: transactions.KindCard, Counterparty: "merchant:m-1", Ref: "m1", Merchant: &transactions.Merchant{ID: "m-1"}})

	require.NoError(t, err)
	require.Equal(t, Approved, out.Status)
	require.Equal(t, int64(3800), out.BalanceAfter)
	require.Equal(t, int64(1), appends.Load())
	// Unbounded, the first read alone would have spent the whole budget,
	// and the reserve would have failed without asking the ledger.
	require.Positive(t, proj.calls.Load())
	require.Positive(t, idem.calls.Load())

	// The account's next writer waits for the projection's update (its
	// turn), which gives up after shortcutWrite.
	done, err := s.turns.wait(context.Background(), "acc-1")
	require.NoError(t, err)
	done()
}

// A balance read is answered from the ledger when the projection is silent.
func TestBalanceReadGoesToTheLedgerWhileTheProjectionIsSilent(t *testing.T) {
	ledger, _ := fakeLedger(t, transactions.Entry{Key: "seed", Account: "acc-1", Customer: "cus-1",
		Kind: transactions.KindTransferIn, Amount: 5000, BalanceAfter: 5000, Seq: 7})
	s := &service{p: &process.Process{Log: slog.New(slog.DiscardHandler)}, ledger: ledger, proj: &silentBucket{}, idem: &silentBucket{}}

	r := httptest.NewRequest(http.MethodGet, "/v1/accounts/acc-1/balance", nil)
	r.SetPathValue("id", "acc-1")
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	w := httptest.NewRecorder()
	require.NoError(t, s.serveBalance(w, r.WithContext(ctx)))
	var b Balance
	require.NoError(t, json.NewDecoder(w.Body).Decode(&b))
	require.Equal(t, int64(5000), b.Balance)
	require.Equal(t, uint64(7), b.Seq)
}

// A balance read is answered from the replica's copy of the projection,
// marked stale, when neither the projection nor the ledger answers; an
// account the ledger says does not exist is a 404 whatever the copy holds.
func TestBalanceReadGoesToTheCopyWhileTheStoreIsSilent(t *testing.T) {
	_, js := storetest.Node(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "balances"})
	require.NoError(t, err)
	for _, acc := range []string{"acc-1", "acc-gone"} {
		require.NoError(t, store.PutJSON(ctx, kv, acc, Balance{Account: acc, Customer: "cus-1", Balance: 4200, Currency: "GBP", Seq: 9}))
	}
	c := store.NewCopy[Balance]()
	go c.Keep(ctx, kv, slog.New(slog.DiscardHandler))
	require.Eventually(t, func() bool { _, ok := c.Get("acc-gone"); return ok }, 5*time.Second, 10*time.Millisecond)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ledger/accounts/acc-1/last", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("GET /v1/ledger/accounts/acc-gone/last", func(w http.ResponseWriter, _ *http.Request) {
		mesh.WriteError(w, mesh.Errorf(http.StatusNotFound, "unknown_account", "no such account"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	ledger := mesh.NewClient("transactions", mesh.StaticResolver{u.Host}, mesh.NewMetrics("balance-test"))
	s := &service{p: &process.Process{Log: slog.New(slog.DiscardHandler)}, ledger: ledger, proj: &silentBucket{}, idem: &silentBucket{}, copy: c}

	read := func(acc string) (*httptest.ResponseRecorder, error) {
		r := httptest.NewRequest(http.MethodGet, "/v1/accounts/"+acc+"/balance", nil)
		r.SetPathValue("id", acc)
		rctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		w := httptest.NewRecorder()
		return w, s.serveBalance(w, r.WithContext(rctx))
	}
	start := time.Now()
	w, err := read("acc-1")
	require.NoError(t, err)
	require.Less(t, time.Since(start), 800*time.Millisecond, "answered within the bounds, not the deadline")
	var b Balance
	require.NoError(t, json.NewDecoder(w.Body).Decode(&b))
	require.Equal(t, int64(4200), b.Balance)
	require.True(t, b.Stale)

	_, err = read("acc-gone")
	var me *mesh.Error
	require.ErrorAs(t, err, &me)
	require.Equal(t, http.StatusNotFound, me.Status)
}
