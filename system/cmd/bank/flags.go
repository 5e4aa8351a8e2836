package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/faultline/faultline/system/identity"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/seed"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/topology"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// peerFlag collects --peer dep=addr,addr or dep=dns:host:port.
type peerFlag map[string]mesh.Resolver

func (p peerFlag) String() string { return fmt.Sprint(len(p), " peers") }

func (p peerFlag) Set(v string) error {
	for _, part := range strings.Split(v, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		dep, addrs, ok := strings.Cut(part, "=")
		if !ok || dep == "" || addrs == "" {
			return fmt.Errorf("peer %q: want dep=host:port[,host:port] or dep=dns:host:port", part)
		}
		if rest, ok := strings.CutPrefix(addrs, "dns:"); ok {
			host, port, err := net.SplitHostPort(rest)
			if err != nil {
				return fmt.Errorf("peer %q: %w", part, err)
			}
			p[dep] = &mesh.DNSResolver{Host: host, Port: port}
			continue
		}
		list := strings.Split(addrs, ",")
		for _, a := range list {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return fmt.Errorf("peer %q: %w", part, err)
			}
		}
		p[dep] = mesh.StaticResolver(list)
	}
	return nil
}

func logger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func runService(ctx context.Context, name string, setup process.Setup, args []string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	peers := peerFlag{}
	listen := fs.String("listen", env("BANK_LISTEN", "127.0.0.1:8080"), "host:port to serve on")
	instance := fs.String("instance", env("BANK_INSTANCE", name), "name of this replica")
	storeURLs := fs.String("store", env("BANK_STORE", ""), "comma-separated store node URLs")
	admin := fs.Bool("admin", env("BANK_ADMIN", "") == "1", "enable the admin fault hook (/admin/faults)")
	adminListen := fs.String("admin-listen", env("BANK_ADMIN_LISTEN", ""), "with --admin: serve the hook on this host:port only, not on --listen")
	// The token comes from the environment only: a flag would show it to
	// anyone who can list processes.
	adminToken := os.Getenv("BANK_ADMIN_TOKEN")
	rl := fs.Int("rate-limit", mesh.DefaultRateLimit, "process-wide requests per second (0: no limit)")
	level := fs.String("log-level", env("BANK_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.Var(peers, "peer", "dependency endpoints: dep=host:port,host:port or dep=dns:host:port (repeatable)")
	if v := os.Getenv("BANK_PEERS"); v != "" {
		if err := peers.Set(v); err != nil {
			return err
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *storeURLs == "" {
		return errors.New("--store is required")
	}
	id, err := identity.FromEnv()
	if err != nil {
		return err
	}
	log := logger(*level).With("instance", *instance)
	p, err := process.New(process.Config{Service: name, Instance: *instance, Listen: *listen, Store: *storeURLs,
		Peers: peers, Admin: *admin, AdminListen: *adminListen, AdminToken: adminToken, StorePassword: os.Getenv(store.PasswordEnv),
		Identity: id, RateLimit: *rl, Log: log})
	if err != nil {
		return err
	}
	return p.Run(ctx, setup)
}

func runStore(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("store", flag.ContinueOnError)
	var cfg store.NodeConfig
	var routes string
	fs.StringVar(&cfg.Name, "name", env("BANK_STORE_NAME", "store-0"), "unique node name")
	fs.StringVar(&cfg.Host, "host", "127.0.0.1", "listen host")
	fs.IntVar(&cfg.ClientPort, "client-port", 4222, "client port")
	fs.IntVar(&cfg.ClusterPort, "cluster-port", 6222, "route port")
	fs.StringVar(&cfg.Advertise, "cluster-advertise", "", "route address told to the other nodes (default: the route port)")
	fs.IntVar(&cfg.MonitorPort, "monitor-port", 0, "HTTP monitoring port (0: off)")
	fs.StringVar(&routes, "routes", env("BANK_STORE_ROUTES", ""), "comma-separated nats-route:// URLs of all nodes")
	fs.StringVar(&cfg.Dir, "dir", env("BANK_STORE_DIR", "/tmp/bank-store"), "storage directory")
	sync := fs.String("sync", env("BANK_STORE_SYNC", "2m"), `when to fsync: "always" (before acknowledging a write; loses nothing on a power failure, costs the steady objectives of two scenarios on 2 cores, docs/BANK.md) or an interval (NATS's default, 2m)`)
	level := fs.String("log-level", "info", "log level")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if routes != "" {
		cfg.Routes = strings.Split(routes, ",")
	}
	var err error
	if cfg.Sync, err = store.ParseSync(*sync); err != nil {
		return err
	}
	if cfg.Key, err = store.KeyFromEnv(); err != nil {
		return err
	}
	for _, s := range topology.Services {
		cfg.Services = append(cfg.Services, s.Name)
	}
	return store.RunNode(ctx, cfg, logger(*level))
}

func runSeed(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	urls := fs.String("store", env("BANK_STORE", ""), "comma-separated store node URLs")
	n := fs.Int("customers", 200, "number of customers")
	sd := fs.Int64("seed", 1, "seed of the generated data")
	out := fs.String("out", "", "write the seeded data as JSON to this file")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *n < 1 || *n > 99999 {
		return fmt.Errorf("--customers must be 1-99999, got %d", *n)
	}
	nc, js, err := store.Connect(*urls, "seed", store.Login(store.SeedUser, os.Getenv(store.PasswordEnv)))
	if err != nil {
		return err
	}
	defer nc.Close()
	// The tokens' key: the platform's, per run (BANK_SEED_KEY, hex), or a
	// random one, the tokens then known only from --out.
	key, err := hex.DecodeString(os.Getenv("BANK_SEED_KEY"))
	if err != nil {
		return fmt.Errorf("BANK_SEED_KEY is not hex: %w", err)
	}
	d := seed.Generate(*n, *sd, key)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := store.Retry(ctx, "seed", func(c context.Context) error { return seed.Load(ctx, js, d) }); err != nil {
		return err
	}
	if *out != "" {
		b, _ := json.MarshalIndent(d, "", " ")
		// The customers' tokens are in it: private.
		if err := os.WriteFile(*out, b, 0o600); err != nil {
			return err
		}
	}
	fmt.Printf("seeded %d customers, opening total %d\n", len(d.Customers), d.Opening())
	return nil
}

// runHog waits for a line on its standard input, then allocates memory a
// MiB at a time, touching every page, and keeps it until killed: the OOM
// kill fault starts it in its target's memory group and lets it go once
// it is there, so that the group fills and the kernel kills the target
// (made the OOM killer's first choice).
func runHog(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hog", flag.ContinueOnError)
	limit := fs.Int("mib", 1024, "most memory to take, in MiB")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("hog: waiting for the word to start: %w", err)
	}
	var kept [][]byte
	for i := 0; i < *limit && ctx.Err() == nil; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		kept = append(kept, b)
	}
	<-ctx.Done()
	runtime.KeepAlive(kept)
	return nil
}

// runBurn spins on every core it may use until killed: the CPU pressure
// fault starts it pinned to the cores of its target.
func runBurn(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("burn", flag.ContinueOnError)
	threads := fs.Int("threads", runtime.NumCPU(), "busy goroutines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for range *threads {
		go func() {
			x := 0
			for ctx.Err() == nil {
				for i := range 1_000_000 {
					x += i
				}
			}
			_ = x
		}()
	}
	<-ctx.Done()
	return nil
}
