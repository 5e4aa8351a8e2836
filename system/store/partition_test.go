package store_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/store"
)

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestRoutesThroughLinksCanBeCut: three store nodes whose routes go through
// a proxy per pair of nodes, each advertising a route address where nothing
// listens (as the local platform runs them). With every link between
// store-1 and the others stopped both ways, a message published on store-0
// never reaches a subscriber on store-1: nothing goes around the links.
// Once the links let data through again, messages reach it again.
func TestRoutesThroughLinksCanBeCut(t *testing.T) {
	const n = 3
	c := startLinkedStore(t, n)
	client, links := c.client, c.links

	connect := func(i int) *nats.Conn {
		var nc *nats.Conn
		require.Eventually(t, func() bool {
			var err error
			nc, err = nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", client[i]), nats.DontRandomize(), nats.NoReconnect())
			return err == nil
		}, 15*time.Second, 100*time.Millisecond, "store-%d up", i)
		t.Cleanup(nc.Close)
		return nc
	}
	pub, sub := connect(0), connect(1)
	got := make(chan *nats.Msg, 256)
	_, err := sub.ChanSubscribe("probe", got)
	require.NoError(t, err)
	require.NoError(t, sub.Flush())
	reaches := func(within time.Duration) bool {
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			require.NoError(t, pub.Publish("probe", []byte("x")))
			select {
			case <-got:
				return true
			case <-time.After(100 * time.Millisecond):
			}
		}
		return false
	}
	require.True(t, reaches(15*time.Second), "store-0 to store-1 before the cut")

	cut := func(p *toxiproxy.Proxy) {
		for _, stream := range []string{"upstream", "downstream"} {
			_, err := p.Toxics.AddToxicJson(jsonToxic(stream))
			require.NoError(t, err)
		}
	}
	for pair, p := range links {
		if pair[0] == 1 || pair[1] == 1 {
			cut(p)
		}
	}
	for len(got) > 0 {
		<-got
	}
	require.False(t, reaches(5*time.Second), "a message went around the cut links")

	for pair, p := range links {
		if pair[0] == 1 || pair[1] == 1 {
			for _, stream := range []string{"upstream", "downstream"} {
				require.NoError(t, p.Toxics.RemoveToxic(context.Background(), "cut-"+stream))
			}
		}
	}
	require.True(t, reaches(30*time.Second), "store-0 to store-1 after the heal")
}

// linkedStore is a store of nodes run in the test's process whose routes
// go through a proxy per pair of nodes (links[{i, j}] carries store-i's
// route to store-j), each advertising a route address where nothing
// listens (as the local platform runs them), so that a test can cut them.
type linkedStore struct {
	client []int // each node's client port
	links  map[[2]int]*toxiproxy.Proxy
	stops  []context.CancelFunc
	done   []chan error
}

// startLinkedStore starts n linked nodes; they are stopped, and the
// proxies closed, when the test ends.
func startLinkedStore(t *testing.T, n int) *linkedStore {
	t.Helper()
	zerolog.SetGlobalLevel(zerolog.Disabled)
	px := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	c := &linkedStore{client: make([]int, n), links: map[[2]int]*toxiproxy.Proxy{}, stops: make([]context.CancelFunc, n), done: make([]chan error, n)}
	cluster := make([]int, n)
	for i := range n {
		c.client[i], cluster[i] = freePort(t), freePort(t)
	}
	for i := range n {
		var routes []string
		for j := range n {
			if j == i {
				continue
			}
			p := toxiproxy.NewProxy(px, fmt.Sprintf("store-%d->store-%d", i, j), "127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", cluster[j]))
			require.NoError(t, px.Collection.Add(p, true))
			c.links[[2]int{i, j}] = p
			routes = append(routes, "nats-route://"+p.Listen)
		}
		cfg := store.NodeConfig{Name: fmt.Sprintf("store-%d", i), Host: "127.0.0.1", ClientPort: c.client[i], ClusterPort: cluster[i],
			Routes: routes, Advertise: "127.0.0.1:1", Dir: t.TempDir()}
		ctx, cancel := context.WithCancel(context.Background())
		c.stops[i], c.done[i] = cancel, make(chan error, 1)
		go func() { c.done[i] <- store.RunNode(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	}
	t.Cleanup(func() {
		for i := range n {
			c.stop(i)
		}
		_ = px.Collection.Clear()
	})
	return c
}

// stop stops node i and waits until it has; stopping it again does
// nothing.
func (c *linkedStore) stop(i int) {
	if c.stops[i] == nil {
		return
	}
	c.stops[i]()
	<-c.done[i]
	c.stops[i] = nil
}

// jsonToxic is a toxic that lets nothing through on stream, as the
// toxiproxy API takes it.
func jsonToxic(stream string) io.Reader {
	return strings.NewReader(fmt.Sprintf(`{"name":"cut-%s","type":"timeout","stream":%q,"toxicity":1,"attributes":{"timeout":0}}`, stream, stream))
}
