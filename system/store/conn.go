package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Replicas returns the replication factor of buckets and streams:
// BANK_STORE_REPLICAS, 3 by default.
func Replicas() int {
	if n, err := strconv.Atoi(os.Getenv("BANK_STORE_REPLICAS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// Login is the option that connects as user with password (users.go);
// without a password it connects as no one, which only a store without a
// key takes.
func Login(user, password string) nats.Option {
	if password == "" {
		return func(*nats.Options) error { return nil }
	}
	return nats.UserInfo(user, password)
}

// Connect connects to the store at urls (comma separated) and returns the
// connection and its JetStream context. It keeps reconnecting forever; only
// the given addresses are used, never ones the cluster gossips. A node that
// stops answering (SIGSTOP, a frozen host) is given up after two missed
// pings a second apart, so its clients move to another node within about
// 2-3 s instead of waiting on it for the whole pause.
func Connect(urls, name string, login nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	if strings.TrimSpace(urls) == "" {
		return nil, nil, errors.New("no store addresses (--store)")
	}
	nc, err := nats.Connect(urls, connOptions(name, login)...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to store %s: %w", urls, err)
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(2*time.Second))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// ConnectEach connects to each store node at urls (comma separated, one
// address a node) on a connection of its own, which only ever reconnects
// to that node. A write over it reaches its node whatever the others can
// reach: card-api writes the stand-in journal kept on each node this way
// (StandInJournals). Callers close the connections.
func ConnectEach(urls, name string, login nats.Option) ([]*NodeConn, error) {
	var out []*NodeConn
	for u := range strings.SplitSeq(urls, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		c := &NodeConn{}
		note := func(nc *nats.Conn) { c.note(nc.ConnectedServerName(), nc.IsConnected()) }
		nc, err := nats.Connect(u, append(connOptions(name, login),
			nats.ConnectHandler(note), nats.ReconnectHandler(note),
			nats.DisconnectErrHandler(func(nc *nats.Conn, _ error) { c.up.Store(false) }))...)
		if err != nil {
			for _, c := range out {
				c.Close()
			}
			return nil, fmt.Errorf("connect to store node %s: %w", u, err)
		}
		c.Conn = nc
		note(nc)
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no store addresses (--store)")
	}
	return out, nil
}

// NodeConn is a connection to one store node (ConnectEach), with the node
// it is to and whether it is up, as the connection's callbacks last said.
// Node reads them without the connection's lock, which nats.go holds while
// it redials a node that does not answer (a paused one: the dial succeeds
// and the node never greets), up to the dial timeout at a time: asking the
// connection itself stalled every caller about once a second.
type NodeConn struct {
	*nats.Conn
	node atomic.Pointer[string]
	up   atomic.Bool
}

func (c *NodeConn) note(node string, up bool) {
	if node != "" {
		c.node.Store(&node)
	}
	c.up.Store(up)
}

// Node returns the name of the node c is to (once it has connected), and
// whether c is connected now.
func (c *NodeConn) Node() (string, bool) {
	n := c.node.Load()
	if n == nil {
		return "", false
	}
	return *n, c.up.Load()
}

func connOptions(name string, login nats.Option) []nats.Option {
	return []nats.Option{login,
		nats.Name(name),
		nats.IgnoreDiscoveredServers(),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.Timeout(time.Second),
		nats.PingInterval(time.Second),
		nats.MaxPingsOutstanding(2),
	}
}

// IsConflict reports whether err is a failed optimistic-concurrency check
// (a stale expected sequence or revision).
func IsConflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}

// Retry calls f until it succeeds or ctx is done, waiting between tries.
// Services use it at start to create their buckets while the cluster elects
// its leaders.
func Retry(ctx context.Context, what string, f func(context.Context) error) error {
	var err error
	for {
		tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err = f(tctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
