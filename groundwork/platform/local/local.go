// Package local is the embedded default platform: every store node and
// service replica of system/topology runs as an OS process of the bank
// binary on loopback, supervised and restarted like a ReplicaSet would, with
// each instance's calls to each dependency instance going through its own
// toxiproxy proxy (its "sidecar"), so link faults hit exactly one caller and
// callee. Clients (the load) reach edge and card-api through ingress proxies
// of their own.
//
// Everything it starts is journaled; processes die with the harness.
package local

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/identity"
	"github.com/faultline/faultline/system/seed"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/topology"
)

// Defaults.
const (
	DefaultRestartDelay = time.Second
	DefaultReadyTimeout = 90 * time.Second
	stopGrace           = 5 * time.Second
)

// Options configure the local platform.
type Options struct {
	RunDir       string // logs go to RunDir/logs, store data to RunDir/store
	CacheDir     string // where the bank binary is built; default the user cache
	RestartDelay time.Duration
	Journal      *journal.Journal
	Progress     func(format string, args ...any) // progress for humans; may be nil
	// Replicas overrides the replica count of services (for small tests).
	Replicas map[string]int
	// Services limits the mesh to these services (and what they call); all when empty.
	Services []string
}

// Platform is the local platform. Create it with New.
type Platform struct {
	opts    Options
	bin     string
	journal *journal.Journal
	side    *sidecars
	events  chan platform.Event
	// net cuts the store's routes when the host lets it (storeNet);
	// netWhy says why not, and the routes then go through links.
	net    *storeNet
	netWhy string
	// token is the run's admin token, given to every bank process
	// (BANK_ADMIN_TOKEN) and to the harness (AdminToken).
	token string
	// cardKey is the card network's key, given to card-api
	// (BANK_CARD_KEY) and to the load (CardKey).
	cardKey []byte
	// storeKey is the store's key: the nodes get it (BANK_STORE_KEY),
	// every other process its own password (store.Password).
	storeKey []byte
	// id is the run's certificate authority: every service process gets
	// its certificate (identity.FromEnv), the harness its own (TLS).
	id *platform.RunIdentity

	mu      sync.Mutex
	procs   map[string]*proc
	order   []*proc
	ingress map[string][]ingressPoint
	store   []string        // direct client URLs of the store nodes
	frozen  platform.Frozen // by fault ID: what Freeze stopped
	disks   disks
	cancel  context.CancelFunc
	stopped bool
}

var (
	_ platform.Platform  = (*Platform)(nil)
	_ platform.Links     = (*Platform)(nil)
	_ platform.Signals   = (*Platform)(nil)
	_ platform.Freezer   = (*Platform)(nil)
	_ platform.Pressure  = (*Platform)(nil)
	_ platform.Readiness = (*Platform)(nil)
	_ platform.Endpoints = (*Platform)(nil)
	_ platform.Identity  = (*Platform)(nil)
	_ platform.Seeder    = (*Platform)(nil)
	_ platform.Versions  = (*Platform)(nil)
)

// Name is the local platform's name for platform.Open.
const Name = "local"

func init() {
	platform.Register(platform.Registration{
		Name: Name,
		Open: func(o platform.Options) (platform.Platform, error) {
			return New(Options{RunDir: o.RunDir, Journal: o.Journal, Progress: o.Progress})
		},
		// Everything local is a host process: the journal's own reaper
		// resumes and kills them after checking each one's identity.
		Reap:      journal.ReapEntries,
		LoadShare: loadShare,
	})
}

// New returns a local platform; nothing runs until Start.
func New(opts Options) (*Platform, error) {
	if opts.RunDir == "" {
		return nil, errors.New("local platform: RunDir is required")
	}
	if opts.Journal == nil {
		return nil, errors.New("local platform: Journal is required")
	}
	if opts.RestartDelay == 0 {
		opts.RestartDelay = DefaultRestartDelay
	}
	if opts.CacheDir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		opts.CacheDir = filepath.Join(c, "faultline")
	}
	if opts.Progress == nil {
		opts.Progress = func(string, ...any) {}
	}
	id, err := platform.NewRunIdentity()
	if err != nil {
		return nil, fmt.Errorf("local platform: the run's certificates: %w", err)
	}
	return &Platform{opts: opts, journal: opts.Journal, events: make(chan platform.Event, 4096),
		procs: map[string]*proc{}, ingress: map[string][]ingressPoint{}, token: platform.NewAdminToken(),
		cardKey: platform.NewKey(), storeKey: platform.NewKey(), id: id}, nil
}

// Name implements platform.Platform.
func (p *Platform) Name() string { return Name }

// Binary is the path of the bank binary the processes run.
func (p *Platform) Binary() string { return p.bin }

// Events implements platform.Platform.
func (p *Platform) Events() <-chan platform.Event { return p.events }

func (p *Platform) emit(kind, inst, detail string) {
	select {
	case p.events <- platform.Event{Time: time.Now(), Kind: kind, Instance: inst, Detail: detail}:
	default: // nobody is listening fast enough; events are best effort
	}
}

func (p *Platform) services() []topology.Service {
	if len(p.opts.Services) == 0 {
		return topology.StartOrder()
	}
	want := map[string]bool{}
	var add func(string)
	add = func(n string) {
		if want[n] {
			return
		}
		want[n] = true
		s, _ := topology.Lookup(n)
		for _, c := range s.Calls {
			if c != topology.Store {
				add(c)
			}
		}
	}
	for _, n := range p.opts.Services {
		add(n)
	}
	var out []topology.Service
	for _, s := range topology.StartOrder() {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out
}

// Start implements platform.Platform: it builds the bank, starts the store
// nodes, then every service replica behind its sidecars, and waits until all
// are ready. On failure it stops what it started.
func (p *Platform) Start(ctx context.Context) (err error) {
	if err := p.makeRunDirs(); err != nil {
		return err
	}
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	t0 := time.Now()
	if p.bin, err = BuildBank(ctx, root, p.opts.CacheDir); err != nil {
		return err
	}
	p.opts.Progress("built %s in %v", filepath.Base(p.bin), time.Since(t0).Round(time.Millisecond))
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.side = newSidecars()
	defer func() {
		if err != nil {
			_ = p.Stop(context.Background())
		}
	}()
	t1 := time.Now()
	if err := p.startStore(runCtx); err != nil {
		return err
	}
	if err := p.waitAllReady(ctx); err != nil {
		return err
	}
	if err := p.startServices(runCtx); err != nil {
		return err
	}
	if err := p.waitAllReady(ctx); err != nil {
		return err
	}
	p.opts.Progress("mesh ready: %d instances in %v", len(p.order), time.Since(t1).Round(time.Millisecond))
	return nil
}

// makeRunDirs creates RunDir/logs and RunDir/store, readable by the user
// only: logs and store data hold customers' details.
func (p *Platform) makeRunDirs() error {
	for _, d := range []string{"logs", "store"} {
		if err := os.MkdirAll(filepath.Join(p.opts.RunDir, d), 0o700); err != nil {
			return err
		}
	}
	return nil
}

func (p *Platform) launch(ctx context.Context, pr *proc) {
	pr.wake, pr.done = make(chan struct{}), make(chan struct{})
	p.mu.Lock()
	p.procs[pr.Name] = pr
	p.order = append(p.order, pr)
	p.mu.Unlock()
	go p.supervise(ctx, pr)
}

// startStore starts the store's nodes. The routes between nodes go
// straight from node to node where the host can cut them with iptables
// (storeNet): a partition costs nothing until it is injected. Elsewhere
// each node reaches each other node through a link of its own
// (store-0->store-1, in the harness's toxiproxy as every link), and
// advertises StoreRouteAdvertise, where nothing listens, instead of its
// route port: a node that learns of a peer from a third (NATS gossips the
// routes it makes) would otherwise dial the peer's route port directly,
// around its link, and around a partition.
func (p *Platform) startStore(ctx context.Context) error {
	n := topology.StoreNodes
	ports, err := freePorts(3 * n)
	if err != nil {
		return err
	}
	nodes := make([]platform.Instance, n)
	names := make([]string, n)
	dirs := make([]string, n)
	for i := range n {
		nodes[i] = platform.Instance{Name: fmt.Sprintf("store-%d", i), Service: topology.Store, Tier: 0, Addr: fmt.Sprintf("127.0.0.1:%d", ports[3*i])}
		names[i] = nodes[i].Name
		// Every disk is mounted before any node starts: a process started
		// while a mount opens /dev/fuse could inherit that descriptor
		// (go-fuse sets close-on-exec only after the mount) and keep the
		// mount's connection alive after the harness dies.
		if dirs[i], err = p.dataDir(nodes[i].Name); err != nil {
			return err
		}
	}
	if p.net, err = newStoreNet(p.journal, names); err != nil {
		p.netWhy = err.Error()
		p.opts.Progress("store routes go through the harness's links: iptables cannot cut them here (%v)", err)
	} else {
		p.opts.Progress("store routes go straight from node to node; partitions cut them with iptables (chain %s)", p.net.chain)
	}
	for i, node := range nodes {
		client, cluster, mon := ports[3*i], ports[3*i+1], ports[3*i+2]
		advertise := StoreRouteAdvertise
		var routes []string
		for j, peer := range nodes {
			if j == i {
				continue
			}
			peer.Addr = fmt.Sprintf("127.0.0.1:%d", ports[3*j+1])
			if p.net != nil {
				routes = append(routes, "nats-route://"+peer.Addr)
				continue
			}
			addr, err := p.side.add(node, peer)
			if err != nil {
				return err
			}
			routes = append(routes, "nats-route://"+addr)
		}
		pr := &proc{Instance: node, readyURL: fmt.Sprintf("http://127.0.0.1:%d/healthz", mon)}
		if p.net != nil {
			advertise = fmt.Sprintf("127.0.0.1:%d", cluster)
			p.net.setPort(node.Name, cluster)
			pr.group = p.net.group(node.Name)
		}
		pr.args = []string{"store", "--name", node.Name, "--host", "127.0.0.1", "--client-port", fmt.Sprint(client),
			"--cluster-port", fmt.Sprint(cluster), "--cluster-advertise", advertise, "--monitor-port", fmt.Sprint(mon),
			"--routes", strings.Join(routes, ","), "--dir", dirs[i]}
		p.store = append(p.store, fmt.Sprintf("nats://127.0.0.1:%d", client))
		p.launch(ctx, pr)
	}
	return nil
}

// StoreRouteAdvertise is the route address a local store node gives its
// peers: the TCP port 1 of loopback, where nothing listens, so that a
// route learned by gossip is refused at once (startStore).
const StoreRouteAdvertise = "127.0.0.1:1"

func (p *Platform) startServices(ctx context.Context) error {
	svcs := p.services()
	count := 0
	for _, s := range svcs {
		count += p.replicas(s)
	}
	ports, err := freePorts(count)
	if err != nil {
		return err
	}
	insts := map[string][]platform.Instance{}
	i := 0
	for _, s := range svcs {
		for r := range p.replicas(s) {
			insts[s.Name] = append(insts[s.Name], platform.Instance{Name: fmt.Sprintf("%s-%d", s.Name, r), Service: s.Name,
				Tier: s.Tier, Addr: fmt.Sprintf("127.0.0.1:%d", ports[i])})
			i++
		}
	}
	insts[topology.Store] = p.Instances(topology.Store)
	for _, s := range svcs {
		for _, in := range insts[s.Name] {
			args, err := p.serviceArgs(s, in, insts)
			if err != nil {
				return err
			}
			p.launch(ctx, &proc{Instance: in, args: args, readyURL: platform.URL(p, in.Addr, "/readyz")})
		}
	}
	client := platform.Instance{Name: "client", Service: "client", Tier: -1}
	for _, entry := range []string{"edge", "card-api"} {
		for _, in := range insts[entry] {
			addr, err := p.side.add(client, in)
			if err != nil {
				return err
			}
			p.ingress[entry] = append(p.ingress[entry], ingressPoint{addr: addr, inst: in})
		}
	}
	go p.watchIngress(ctx)
	return nil
}

func (p *Platform) replicas(s topology.Service) int {
	if n, ok := p.opts.Replicas[s.Name]; ok && n > 0 {
		return n
	}
	return s.Replicas
}

// serviceArgs creates in's sidecars, one per dependency instance, and
// returns its command line.
func (p *Platform) serviceArgs(s topology.Service, in platform.Instance, insts map[string][]platform.Instance) ([]string, error) {
	args := []string{s.Name, "--listen", in.Addr, "--instance", in.Name, "--admin", "--log-level", "info"}
	for _, dep := range s.Calls {
		var addrs []string
		for _, to := range insts[dep] {
			a, err := p.side.add(in, to)
			if err != nil {
				return nil, err
			}
			addrs = append(addrs, a)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("%s calls %s, which is not deployed", s.Name, dep)
		}
		if dep == topology.Store {
			for i := range addrs {
				addrs[i] = "nats://" + addrs[i]
			}
			args = append(args, "--store", strings.Join(addrs, ","))
		} else {
			args = append(args, "--peer", dep+"="+strings.Join(addrs, ","))
		}
	}
	return args, nil
}

func (p *Platform) waitAllReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultReadyTimeout)
	defer cancel()
	for _, pr := range p.snapshot() {
		if err := p.WaitReady(ctx, pr.Name); err != nil {
			return fmt.Errorf("%w (see %s)", err, filepath.Join(p.opts.RunDir, "logs", pr.Name+".log"))
		}
	}
	return nil
}

func (p *Platform) snapshot() []*proc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*proc(nil), p.order...)
}

// WaitReady implements platform.Readiness.
func (p *Platform) WaitReady(ctx context.Context, instance string) error {
	p.mu.Lock()
	pr, ok := p.procs[instance]
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("no instance %q", instance)
	}
	return platform.WaitUntil(ctx, 20*time.Millisecond, instance+" not ready", func() bool {
		pr.mu.Lock()
		defer pr.mu.Unlock()
		return pr.ready
	})
}

// Instances implements platform.Platform.
func (p *Platform) Instances(service string) []platform.Instance {
	var out []platform.Instance
	for _, pr := range p.snapshot() {
		if service == "" || pr.Service == service {
			out = append(out, pr.Instance)
		}
	}
	return out
}

// Ingress implements platform.Platform (see ingress.go).
func (p *Platform) Ingress(service string) []string { return p.readyIngress(service) }

// Links implements platform.Links.
func (p *Platform) Links(from, to string) []platform.Link { return p.side.find(from, to) }

// PID returns the host PID of instance's current process (for the local
// benchmarks' memory figures; faults use Incarnation).
func (p *Platform) PID(instance string) (int, bool) {
	p.mu.Lock()
	pr, ok := p.procs[instance]
	p.mu.Unlock()
	if !ok {
		return 0, false
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.pid, pr.pid > 0
}

// Incarnation implements platform.Signals: an instance's incarnation is
// its current process.
func (p *Platform) Incarnation(instance string) (platform.Incarnation, bool) {
	pid, ok := p.PID(instance)
	if !ok {
		return platform.Incarnation{}, false
	}
	return incarnation(pid), true
}

func incarnation(pid int) platform.Incarnation {
	return platform.Incarnation{ID: fmt.Sprintf("pid %d", pid), PID: pid}
}

// Signal implements platform.Signals: it signals inc's process through
// the handle the platform got when starting it (a pidfd), so that a
// process that has exited, and whose PID may since belong to anyone, is
// never signalled.
func (p *Platform) Signal(instance string, inc platform.Incarnation, sig syscall.Signal) error {
	if inc.PID <= 0 {
		return fmt.Errorf("signal %v to %s %s: %w", sig, instance, inc.ID, platform.ErrNotCurrent)
	}
	return p.signal(instance, inc.PID, sig)
}

// State implements platform.Signals. An incarnation is gone once the
// supervisor has seen its process exit (it is no longer the instance's
// current process): until then it counts as running, even while it exits,
// because its readiness is still the supervisor's last word on it and a
// fault that moved on earlier (a rolling restart) would take down the next
// replica while this one is still coming back. A stopped process (state T)
// is Stopped.
func (p *Platform) State(instance string, inc platform.Incarnation) (platform.State, error) {
	if cur, ok := p.PID(instance); !ok || cur != inc.PID {
		return platform.Gone, nil
	}
	st, err := procState(inc.PID)
	switch {
	case err != nil:
		// Exiting or exited, not yet reaped: the supervisor is about to see it.
		return platform.Running, nil
	case st == "T" || st == "t":
		return platform.Stopped, nil
	}
	return platform.Running, nil
}

// procState returns the state letter of /proc/pid/stat.
func procState(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return "", fmt.Errorf("pid %d: unreadable stat", pid)
	}
	return string(b[i+2]), nil
}

// signal sends sig to instance's process, only if it is pid.
// The handle is a pidfd: if the process exits meanwhile, the signal fails
// instead of reaching whoever gets its PID next.
func (p *Platform) signal(instance string, pid int, sig syscall.Signal) error {
	p.mu.Lock()
	pr, ok := p.procs[instance]
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("signal %v to %s: no such instance", sig, instance)
	}
	pr.mu.Lock()
	h, cur := pr.process, pr.pid
	pr.mu.Unlock()
	if h == nil || pid != cur {
		return fmt.Errorf("signal %v to %s pid %d: %w", sig, instance, pid, platform.ErrNotCurrent)
	}
	if err := h.Signal(sig); errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %v to %s pid %d: %w", sig, instance, cur, platform.ErrNotCurrent)
	} else if err != nil {
		return fmt.Errorf("signal %v to %s (pid %d): %w", sig, instance, cur, err)
	}
	return nil
}

// Endpoint implements platform.Endpoints: every instance serves on
// loopback, where the harness reaches it directly.
func (p *Platform) Endpoint(_ context.Context, instance string) (string, error) {
	p.mu.Lock()
	pr, ok := p.procs[instance]
	p.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("no instance %q", instance)
	}
	return pr.Addr, nil
}

// AdminEndpoint implements platform.Endpoints: the local bank serves its
// admin hook on its own port (loopback only).
func (p *Platform) AdminEndpoint(ctx context.Context, instance string) (string, error) {
	return p.Endpoint(ctx, instance)
}

// AdminToken implements platform.Endpoints.
func (p *Platform) AdminToken() string { return p.token }

// TLS implements platform.Endpoints: the harness's certificate.
func (p *Platform) TLS() *tls.Config { return p.id.HarnessTLS() }

// OutsideTLS implements platform.Identity.
func (p *Platform) OutsideTLS() *tls.Config { return p.id.OutsideTLS() }

// Credentials implements platform.Identity.
func (p *Platform) Credentials(name string) (*identity.Credentials, error) {
	return p.id.Credentials(name)
}

// CardKey implements platform.CardNetwork.
func (p *Platform) CardKey() []byte { return p.cardKey }

// StorePassword returns user's password for the store (the harness's is
// store.HarnessUser's).
func (p *Platform) StorePassword(user string) string { return store.Password(p.storeKey, user) }

// Versions implements platform.Versions: the bank binary, named by the
// hash of its sources.
func (p *Platform) Versions() map[string]string {
	if p.bin == "" {
		return nil
	}
	return map[string]string{"bank": filepath.Base(p.bin)}
}

// Seed implements platform.Seeder: it runs the bank's seeder for n
// customers and returns what it created.
func (p *Platform) Seed(ctx context.Context, n int, sd int64) (seed.Data, error) {
	out := filepath.Join(p.opts.RunDir, "seed.json")
	// Created private first: the seeder rewrites it in place, keeping the mode.
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return seed.Data{}, fmt.Errorf("seed: %w", err)
	}
	f.Close()
	cmd := exec.CommandContext(ctx, p.bin, "seed", "--store", strings.Join(p.store, ","), "--customers", fmt.Sprint(n),
		"--seed", fmt.Sprint(sd), "--out", out)
	cmd.Env = append(os.Environ(), "BANK_STORE_REPLICAS=3", store.PasswordEnv+"="+p.StorePassword(store.SeedUser))
	if b, err := cmd.CombinedOutput(); err != nil {
		return seed.Data{}, fmt.Errorf("seed: %w\n%s", err, b)
	}
	var d seed.Data
	if err := os.Chmod(out, 0o600); err != nil {
		return d, fmt.Errorf("seed: %w", err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return d, err
	}
	return d, json.Unmarshal(b, &d)
}

// Stop implements platform.Platform: services first, then the store, then
// the sidecars. Idempotent.
func (p *Platform) Stop(ctx context.Context) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	p.mu.Unlock()
	procs := p.snapshot()
	var wg sync.WaitGroup
	for _, pass := range []bool{false, true} { // services, then store nodes
		for _, pr := range procs {
			if (pr.Service == topology.Store) == pass {
				wg.Add(1)
				go func() { defer wg.Done(); pr.stop(stopGrace) }()
			}
		}
		wg.Wait()
	}
	if p.cancel != nil {
		p.cancel()
	}
	if p.side != nil {
		p.side.close()
	}
	errs := []error{p.unmountDisks()}
	if p.net != nil {
		errs = append(errs, p.net.close())
	}
	for _, pr := range procs {
		errs = append(errs, p.journal.Remove("proc-"+pr.Name))
	}
	return errors.Join(errs...)
}
