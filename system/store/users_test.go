package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/store"
)

// A node with a key takes only its users: each service may write only
// where it owns the data and change only its own streams' configuration,
// nobody but the harness may delete a stream, and a process without its
// password cannot connect at all.
func TestStoreUsersWriteOnlyWhatTheyOwn(t *testing.T) {
	key := []byte("a store key for this test only")
	const n = 3
	client, cluster := make([]int, n), make([]int, n)
	var routes []string
	for i := range n {
		client[i], cluster[i] = freePort(t), freePort(t)
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", cluster[i]))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, n)
	for i := range n {
		cfg := store.NodeConfig{Name: fmt.Sprintf("store-%d", i), Host: "127.0.0.1", ClientPort: client[i], ClusterPort: cluster[i], Dir: t.TempDir(),
			Routes: routes, Key: key, Services: []string{"transactions", "balance", "card-api"}}
		go func() { done <- store.RunNode(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	}
	defer func() {
		cancel()
		for range n {
			<-done
		}
	}()
	port := client[0]
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)

	connect := func(user, password string) (*nats.Conn, jetstream.JetStream, error) {
		nc, err := nats.Connect(url, store.Login(user, password), nats.NoReconnect(), nats.Timeout(time.Second),
			nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})) // refusals are what this test expects
		if err != nil {
			return nil, nil, err
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		return nc, js, err
	}
	require.Eventually(t, func() bool {
		_, js, err := connect(store.HarnessUser, store.Password(key, store.HarnessUser))
		if err != nil {
			return false
		}
		actx, acancel := context.WithTimeout(context.Background(), time.Second)
		defer acancel()
		_, err = js.AccountInfo(actx)
		return err == nil
	}, 30*time.Second, 200*time.Millisecond, "the store is up")

	_, _, err := connect("", "")
	assert.Error(t, err, "no user")
	_, _, err = connect("balance", store.Password(key, "transactions"))
	assert.Error(t, err, "another service's password")

	tctx, tcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer tcancel()
	_, tx, err := connect("transactions", store.Password(key, "transactions"))
	require.NoError(t, err)
	_, err = store.EnsureStream(tctx, tx, store.LedgerStream)
	require.NoError(t, err)
	_, err = tx.Publish(tctx, store.LedgerSubject("a1"), []byte(`{}`))
	assert.NoError(t, err, "transactions appends to the ledger")

	_, bal, err := connect("balance", store.Password(key, "balance"))
	require.NoError(t, err)
	// A refused publish is never acknowledged: the publisher times out.
	denied := func() context.Context {
		c, cancel := context.WithTimeout(tctx, 2*time.Second)
		t.Cleanup(cancel)
		return c
	}
	_, err = bal.Publish(denied(), store.LedgerSubject("a1"), []byte(`{"amount":500000}`))
	assert.Error(t, err, "balance may not write the ledger")
	_, err = store.EnsureKV(tctx, bal, store.BucketBalanceIdm)
	require.NoError(t, err)

	_, cardAPI, err := connect("card-api", store.Password(key, "card-api"))
	require.NoError(t, err)
	mine, err := store.EnsureKV(tctx, cardAPI, store.BucketAnswers)
	require.NoError(t, err)
	_, err = mine.Put(tctx, "m1", []byte(`{"approved":false}`))
	assert.NoError(t, err, "card-api writes its own answers")

	answers, err := store.EnsureKV(tctx, bal, store.BucketAnswers)
	require.NoError(t, err, "a bucket as the bank wants it may be read by anyone")
	_, err = answers.Put(denied(), "m1", []byte(`{"approved":true}`))
	assert.Error(t, err, "balance may not write card-api's answers")
	assert.Error(t, bal.DeleteStream(denied(), store.LedgerStream), "balance may not delete the ledger")

	// The stand-in journals take card-api's records and no one else's.
	journal := store.StandInJournals()[0]
	_, err = store.EnsureStream(tctx, cardAPI, journal.Stream)
	require.NoError(t, err, "card-api keeps its journal")
	_, err = cardAPI.Publish(tctx, journal.Subject("m1"), []byte(`{}`))
	assert.NoError(t, err, "card-api writes its journal")
	_, err = bal.Publish(denied(), journal.Subject("m2"), []byte(`{}`))
	assert.Error(t, err, "balance may not write card-api's journal")

	// Only a stream's owner may change how it is kept: balance binds to the
	// ledger as it is, and cannot turn its deduplication off or age it out.
	_, err = store.EnsureStream(tctx, bal, store.LedgerStream)
	require.NoError(t, err, "balance binds to the ledger")
	ledger, err := tx.Stream(tctx, store.LedgerStream)
	require.NoError(t, err)
	weakened := ledger.CachedInfo().Config
	weakened.Duplicates, weakened.MaxAge = time.Second, time.Minute
	_, err = bal.UpdateStream(denied(), weakened)
	assert.Error(t, err, "balance may not change the ledger's configuration")
	_, err = store.EnsureKV(denied(), bal, store.BucketPots)
	assert.Error(t, err, "a bucket balance does not own, created by balance, cannot be set as the bank wants it by balance")
	ledger, err = tx.Stream(tctx, store.LedgerStream)
	require.NoError(t, err)
	assert.Equal(t, store.DedupWindow, ledger.CachedInfo().Config.Duplicates, "the ledger is as it was")
	_, err = tx.UpdateStream(tctx, weakened)
	require.NoError(t, err, "transactions, the owner, may (and here sets it wrong)")
	_, err = store.EnsureStream(tctx, tx, store.LedgerStream)
	require.NoError(t, err)
	ledger, err = tx.Stream(tctx, store.LedgerStream)
	require.NoError(t, err)
	assert.Equal(t, store.DedupWindow, ledger.CachedInfo().Config.Duplicates, "and EnsureStream sets it right again")
	assert.Zero(t, ledger.CachedInfo().Config.MaxAge)

	info, err := tx.Stream(tctx, store.LedgerStream)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), info.CachedInfo().State.Msgs, "the ledger holds the one entry transactions wrote")
}
