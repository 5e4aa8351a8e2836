package local

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/system/store"
)

// TestStoreCutDropsTheRoutesBetweenTwoNodesOnly runs the store's three
// real nodes with their routes straight from node to node, and cuts
// store-0 from store-1: a message published on store-0 no longer reaches a
// subscriber on store-1, one published on store-2 still does, the cut
// counts what it dropped, and once undone store-0 reaches store-1 again.
// Stopped, the platform leaves no chain and no group behind.
func TestStoreCutDropsTheRoutesBetweenTwoNodesOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("cutting routes with iptables needs root")
	}
	if testing.Short() {
		t.Skip("starts the store's three nodes (-short)")
	}
	root, err := ModuleRoot()
	require.NoError(t, err)
	cache, err := os.UserCacheDir()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := BuildBank(ctx, root, filepath.Join(cache, "faultline"))
	require.NoError(t, err)
	p, _ := newTestPlatform(t, bin)
	p.side = newSidecars()
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	require.NoError(t, p.startStore(runCtx))
	stopped := false
	defer func() {
		if !stopped {
			_ = p.Stop(context.Background())
		}
	}()
	require.NotNil(t, p.net, "the host should let iptables cut the routes: %s", p.netWhy)
	require.NoError(t, p.waitAllReady(ctx))

	conn := func(i int) *nats.Conn {
		nc, err := nats.Connect(p.store[i], nats.Name("storenet-test"), store.Login(store.HarnessUser, p.StorePassword(store.HarnessUser)))
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		return nc
	}
	n0, n1, n2 := conn(0), conn(1), conn(2)
	got := make(chan string, 64)
	_, err = n1.Subscribe("storenet.test", func(m *nats.Msg) { got <- string(m.Data) })
	require.NoError(t, err)
	require.NoError(t, n1.Flush())
	// receives waits until a message from pub, sent again every 100 ms, reaches store-1.
	receives := func(pub *nats.Conn, body string, within time.Duration) bool {
		deadline := time.After(within)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			_ = pub.Publish("storenet.test", []byte(body))
			select {
			case m := <-got:
				if m == body {
					return true
				}
			case <-tick.C:
			case <-deadline:
				return false
			}
		}
	}
	require.True(t, receives(n0, "before-0", 20*time.Second), "store-0 reaches store-1 before the cut")
	require.True(t, receives(n2, "before-2", 20*time.Second), "store-2 reaches store-1 before the cut")

	cut, err := p.CutStore(ctx, "store-0", "store-1")
	require.NoError(t, err)
	ev, err := cut.Verify(ctx)
	require.NoError(t, err)
	t.Log(ev)
	assert.False(t, receives(n0, "during-0", 3*time.Second), "store-0 reached store-1 through the cut")
	assert.True(t, receives(n2, "during-2", 5*time.Second), "the cut between store-0 and store-1 cut store-2 off too")
	dropped, err := cut.Dropped(ctx)
	require.NoError(t, err)
	assert.Positive(t, dropped)
	t.Logf("dropped %d packets", dropped)

	require.NoError(t, cut.Undo(ctx))
	t0 := time.Now()
	assert.True(t, receives(n0, "after-0", 30*time.Second), "store-0 reaches store-1 once the cut is undone")
	t.Logf("store-0 reached store-1 %v after the cut was undone", time.Since(t0).Round(time.Millisecond))

	chain, groups := p.net.chain, p.net.groups
	require.NoError(t, p.Stop(context.Background()))
	stopped = true
	for _, table := range journal.ChainTables {
		assert.Error(t, exec.Command("iptables", "-w", "5", "-t", table, "-n", "-L", chain).Run(), "chain %s left in %s", chain, table)
	}
	for _, dir := range groups {
		assert.NoDirExists(t, dir)
	}
}
