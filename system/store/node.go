package store

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NodeConfig configures one store node.
type NodeConfig struct {
	Name        string   // unique server name, e.g. store-0
	Host        string   // listen host for clients and routes
	ClientPort  int      // NATS client port
	ClusterPort int      // route port between store nodes
	MonitorPort int      // HTTP monitoring (/healthz); 0 disables
	Routes      []string // nats-route://host:port of every node (self included is fine)
	Advertise   string   // route address told to the other nodes, dialed by one that hears of this node from a third ("": the route port on Host)
	Dir         string   // JetStream storage directory
	// Sync is how often the node fsyncs what it writes: SyncAlways (0),
	// before it acknowledges each write, or every Sync.
	Sync time.Duration
	// Key is the run's store key: with it the node takes only its users
	// (users.go), one per name in Services plus the seeder and the
	// harness. Without it, anyone may connect (the store's own tests).
	Key      []byte
	Services []string
}

// SyncAlways is the fsync policy that loses nothing on a power failure: a
// write is on disk before it is acknowledged. NATS JetStream's default
// (the bank's, `bank store --sync 2m`) fsyncs every two minutes while
// acknowledging at once; a power failure of every node then loses the
// acknowledged writes of up to two minutes (Jepsen, NATS 2.12.1; measured
// on the bank's ledger, docs/BANK.md).
const SyncAlways time.Duration = 0

// ParseSync reads a fsync policy: "always", or an interval ("2m").
func ParseSync(s string) (time.Duration, error) {
	if s == "always" {
		return SyncAlways, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("store sync %q: want \"always\" or a positive interval such as 2m", s)
	}
	return d, nil
}

// RunNode runs a store node until ctx is done, then shuts it down.
func RunNode(ctx context.Context, cfg NodeConfig, log *slog.Logger) error {
	opts := &server.Options{
		ServerName: cfg.Name,
		Host:       cfg.Host,
		Port:       cfg.ClientPort,
		HTTPHost:   cfg.Host,
		HTTPPort:   cfg.MonitorPort,
		JetStream:  true,
		StoreDir:   cfg.Dir,
		// BANK_STORE_LOG=1 writes the NATS server's own log to stderr
		// (the node's log file): elections, recovery, disk errors.
		NoLog:      os.Getenv("BANK_STORE_LOG") == "",
		LogtimeUTC: true,
		SyncAlways: cfg.Sync == SyncAlways,
		NoSigs:     true,
		// Clients must only ever use the addresses they were given (the local
		// platform puts a proxy in front of each node).
		Cluster: server.ClusterOpts{Name: "bank", Host: cfg.Host, Port: cfg.ClusterPort, NoAdvertise: true, Advertise: cfg.Advertise},
		// The node's own tag places the stand-in journal kept on it
		// (StandInJournals).
		Tags: []string{NodeTag(cfg.Name)},
	}
	if cfg.MonitorPort == 0 {
		opts.HTTPPort = 0
	}
	if len(cfg.Key) > 0 {
		opts.Users = users(cfg.Key, cfg.Services)
	}
	if cfg.Sync != SyncAlways {
		opts.SyncInterval = cfg.Sync
	}
	if os.Getenv("BANK_STORE_PPROF") != "" && cfg.MonitorPort != 0 {
		opts.ProfPort = cfg.MonitorPort + 10000
	}
	for _, r := range cfg.Routes {
		u, err := url.Parse(r)
		if err != nil {
			return fmt.Errorf("store route %q: %w", r, err)
		}
		opts.Routes = append(opts.Routes, u)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("new store node %s: %w", cfg.Name, err)
	}
	if !opts.NoLog {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return fmt.Errorf("store node %s not ready for connections", cfg.Name)
	}
	log.Info("store node up", "name", cfg.Name, "client", s.ClientURL(), "sync", syncName(cfg.Sync))
	err = nil
	select {
	case <-ctx.Done():
	case err = <-watchDisk(ctx, s, healthEvery, lostFor):
		log.Error("store node stopping: it lost the use of its disk", "name", cfg.Name, "err", err)
	}
	s.Shutdown()
	s.WaitForShutdown()
	return err
}

// healthEvery is how often a node looks at its own health, and lostFor
// how long a lost disk must stay lost before the node exits: often
// enough to see the node healthy soon after it starts (before that, a
// JetStream still starting reads as "not enabled"), and long enough that
// a passing error does not restart a node.
const (
	healthEvery = time.Second
	lostFor     = 5 * time.Second
)

// watchDisk reports when the node has lost the use of its disk and still
// has lostFor later (looking every healthEvery), a state that only a restart clears (measured,
// docs/BANK.md): after a write fails (EIO), NATS stops every stream and
// raft group whose write failed ("critical write error"), and after the
// disk fills (ENOSPC) it turns JetStream off on the node; both stay so
// when the disk comes back. The node then exits, and its platform starts
// it again, as a liveness probe would: a disk still failing makes it exit
// again; a disk that recovered lets it catch up from its peers.
func watchDisk(ctx context.Context, s *server.Server, every, grace time.Duration) <-chan error {
	out := make(chan error, 1)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		healthy := false
		var since time.Time // when the disk was first seen lost; zero while it is not
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			h := s.Healthz(nil)
			healthy = healthy || h.Status == "ok"
			lost := healthy && (strings.Contains(h.Error, "write error") || strings.Contains(h.Error, "JetStream not enabled"))
			switch {
			case !lost:
				since = time.Time{}
			case since.IsZero():
				since = time.Now()
			case time.Since(since) >= grace:
				out <- fmt.Errorf("store health: %s", h.Error)
				return
			}
		}
	}()
	return out
}

func syncName(d time.Duration) string {
	if d == SyncAlways {
		return "always"
	}
	return "every " + d.String()
}
