package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/store"
)

// TestStandInJournalsTakeWritesWhileANodeIsLost runs three store nodes, as
// the bank does, and the stand-in journals on them. Each journal lives on
// its own node alone. A record written to every journal, over a connection
// to each node, is taken by all three while the cluster is whole, by all
// three while store-1 is cut off from the other two (each write is local
// to its node), and by the two left while store-2 is killed: no write
// waits for an election.
func TestStandInJournalsTakeWritesWhileANodeIsLost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node store")
	}
	const n = 3
	c := startLinkedStore(t, n)
	client, links := c.client, c.links

	urls := make([]string, n)
	for i := range n {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", client[i])
	}
	conns, err := store.ConnectEach(strings.Join(urls, ","), "card-api", store.Login("", ""))
	require.NoError(t, err)
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	require.Len(t, conns, n)
	js, err := jetstream.New(conns[0].Conn)
	require.NoError(t, err)
	journals := store.StandInJournals()
	require.Len(t, journals, n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, j := range journals {
		require.NoError(t, store.Retry(ctx, "journal "+j.Stream, func(ctx context.Context) error {
			_, err := store.EnsureStream(ctx, js, j.Stream)
			return err
		}))
		s, err := js.Stream(ctx, j.Stream)
		require.NoError(t, err)
		info := s.CachedInfo()
		require.Equal(t, 1, info.Config.Replicas)
		require.NotNil(t, info.Cluster)
		require.Equal(t, j.Node, info.Cluster.Leader, "journal %s is on its node", j.Stream)
	}
	// Binding again changes nothing.
	_, err = store.EnsureStream(ctx, js, journals[0].Stream)
	require.NoError(t, err)

	// write sends msgid's record to every journal, each over the
	// connection to its node, and returns the journals that took it.
	write := func(msgid string) []string {
		var took []string
		for _, j := range journals {
			for _, nc := range conns {
				if node, up := nc.Node(); !up || node != j.Node {
					continue
				}
				njs, err := jetstream.New(nc.Conn)
				require.NoError(t, err)
				wctx, cancel := context.WithTimeout(context.Background(), store.StandInWait)
				_, err = njs.Publish(wctx, j.Subject(msgid), []byte(`{}`), jetstream.WithMsgID("standin:"+msgid), jetstream.WithRetryAttempts(0))
				cancel()
				if err == nil {
					took = append(took, j.Stream)
				}
			}
		}
		return took
	}
	all := []string{"STANDIN_0", "STANDIN_1", "STANDIN_2"}
	require.Eventually(t, func() bool { return len(write("m-whole")) == n }, 10*time.Second, 50*time.Millisecond)

	for pair, p := range links {
		if pair[0] == 1 || pair[1] == 1 {
			for _, stream := range []string{"upstream", "downstream"} {
				_, err := p.Toxics.AddToxicJson(jsonToxic(stream))
				require.NoError(t, err)
			}
		}
	}
	for i := range 20 {
		require.Equal(t, all, write(fmt.Sprintf("m-cut-%d", i)), "write %d with store-1 cut off", i)
	}

	c.stop(2)
	for i := range 20 {
		require.Equal(t, all[:2], write(fmt.Sprintf("m-killed-%d", i)), "write %d with store-2 killed", i)
	}

	// Each journal left holds each record once, a repeated write included,
	// as its own node says.
	require.Equal(t, all[:2], write("m-killed-0"))
	for _, j := range journals[:2] {
		for _, nc := range conns {
			if node, _ := nc.Node(); node != j.Node {
				continue
			}
			njs, err := jetstream.New(nc.Conn)
			require.NoError(t, err)
			s, err := njs.Stream(ctx, j.Stream)
			require.NoError(t, err, j.Stream)
			require.Equal(t, uint64(1+20+20), s.CachedInfo().State.Msgs, j.Stream)
		}
	}
}
