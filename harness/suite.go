package harness

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/groundwork/platform/local" // ModuleRoot
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/system/seed"
)

// suite is the state shared by the scenarios of one test binary: one
// deployed bank, one history, one run folder.
type suite struct {
	cfg     Config
	runID   string
	dir     string
	journal *journal.Journal
	hist    *history.History
	rnd     *rand.Rand
	started time.Time

	startOnce sync.Once
	startErr  error
	plat      platform.Platform
	data      seed.Data
	gen       *load.Gen
	ingress   load.Ingress // where and how the load reaches the bank (Inspect.AsCustomer too)
	outsideClient
	startup time.Duration

	mu       sync.Mutex
	results  []result.Scenario
	injected map[string]func() // recover functions of faults now injected
	closed   bool
}

// Settle is how long a freshly started bank is left alone before the first
// scenario.
const Settle = 5 * time.Second

var (
	currentMu sync.Mutex
	current   *suite
)

// progress prints a line for humans following a long run.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "faultline %s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// SuiteTimeout replaces go test's default 10 minute timeout for the
// scenarios inside the test binary: the suite takes about 36 minutes at
// full length and 13 with -short, so the binary's own alarm would
// otherwise panic midway. It cannot move the go command's own alarm,
// which kills the binary a minute after -timeout (11 minutes by default):
// the README's commands give -timeout. A timeout given with -timeout
// (other than 10m) is kept.
const SuiteTimeout = 90 * time.Minute

// raiseDefaultTimeout sets -test.timeout to SuiteTimeout when it is go
// test's default. It must run before m.Run, which starts the alarm.
func raiseDefaultTimeout() {
	f := flag.Lookup("test.timeout")
	if f == nil || f.Value.String() != (10*time.Minute).String() {
		return
	}
	if err := f.Value.Set(SuiteTimeout.String()); err == nil {
		progress("go test's default 10m timeout raised to %v for the suite; but the go command itself kills a test binary at 11m unless given -timeout (go test ./scenarios -timeout 80m)", SuiteTimeout)
	}
}

// Main runs the scenarios of a test binary: call it from TestMain. It reaps
// what crashed runs left, runs the tests, stops the bank, saves the run and
// renders its report, and returns the exit code.
func Main(m *testing.M) int {
	flag.Parse()
	raiseDefaultTimeout()
	cfg, err := LoadConfig(testing.Short())
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultline:", err)
		return 2
	}
	s, err := newSuite(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultline:", err)
		return 2
	}
	currentMu.Lock()
	current = s
	currentMu.Unlock()
	stop := s.watch()
	code := m.Run()
	stop()
	if err := s.finish(); err != nil {
		fmt.Fprintln(os.Stderr, "faultline:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func newSuite(cfg Config) (*suite, error) {
	runs := cfg.RunsDir
	if runs == "" {
		root, err := local.ModuleRoot()
		if err != nil {
			return nil, err
		}
		runs = filepath.Join(root, "runs")
	}
	now := time.Now()
	id := now.UTC().Format("20060102-150405") + fmt.Sprintf("-%04x", rand.IntN(0x10000))
	dir := filepath.Join(runs, id)
	// Private: logs, seed data and history name customers and accounts.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(runs, "latest"))
	_ = os.Symlink(id, filepath.Join(runs, "latest"))
	reaped, err := platform.Reap(journal.DefaultDir())
	if err != nil {
		progress("reap: %v", err)
	}
	if reaped.Entries > 0 {
		progress("reaped %d journal entries of crashed runs %v: killed %d processes, resumed %d, detached %d mounts, removed %d control groups and %d iptables chains, skipped %d", reaped.Entries, reaped.Runs, len(reaped.Killed), len(reaped.Resumed), len(reaped.Detached), len(reaped.Released), len(reaped.Unchained), len(reaped.Skipped))
	}
	for _, s := range reaped.Skipped {
		progress("reap: left alone %v", s)
	}
	j, err := journal.Open(journal.DefaultDir(), id)
	if err != nil {
		return nil, err
	}
	h, err := history.New(dir)
	if err != nil {
		return nil, err
	}
	return &suite{cfg: cfg, runID: id, dir: dir, journal: j, hist: h, started: now,
		rnd: rand.New(rand.NewPCG(uint64(cfg.Seed), 7)), injected: map[string]func(){}}, nil
}

// watch recovers every fault and stops the bank when the run is
// interrupted (SIGINT, SIGTERM) or its parent `go test` dies. It returns a
// function that stops watching.
func (s *suite) watch() func() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	ppid := os.Getppid()
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case sig := <-sigs:
				progress("%v: recovering faults and stopping the bank", sig)
				s.abort()
				os.Exit(130)
			case <-t.C:
				if os.Getppid() != ppid {
					progress("parent process died: recovering faults and stopping the bank")
					s.abort()
					os.Exit(131)
				}
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(sigs); close(done) }
}

// abort recovers injected faults and stops the platform, best effort.
func (s *suite) abort() {
	s.mu.Lock()
	recovers := make([]func(), 0, len(s.injected))
	for _, r := range s.injected {
		recovers = append(recovers, r)
	}
	s.mu.Unlock()
	for _, r := range recovers {
		r()
	}
	if s.plat != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = s.plat.Stop(ctx)
	}
	_ = s.hist.Close()
}

// ensure starts the bank the first time a scenario needs it.
func (s *suite) ensure() error {
	s.startOnce.Do(func() {
		t0 := time.Now()
		p, err := platform.Open(s.cfg.Platform, platform.Options{RunDir: s.dir, Journal: s.journal, Progress: progress})
		if err != nil {
			s.startErr = err
			return
		}
		seeder, err := platform.As[platform.Seeder](p, "seeding the bank")
		if err != nil {
			s.startErr = err
			return
		}
		s.plat = p
		go s.recordEvents(p)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		progress("starting the bank on %s (run folder %s)", p.Name(), s.dir)
		if s.cfg.RateWhy != "" {
			progress("load at %.2g of the default: %s", s.cfg.Rate, s.cfg.RateWhy)
		}
		if s.startErr = p.Start(ctx); s.startErr != nil {
			return
		}
		if s.data, s.startErr = seeder.Seed(ctx, s.cfg.Customers, s.cfg.Seed); s.startErr != nil {
			return
		}
		cards, err := platform.As[platform.CardNetwork](p, "signing card network messages")
		if s.startErr = err; err != nil {
			return
		}
		s.ingress = load.Ingress{
			Edge:    func() []string { return p.Ingress("edge") },
			CardAPI: func() []string { return p.Ingress("card-api") },
			CardKey: cards.CardKey(),
		}
		if id, ok := p.(platform.Identity); ok {
			s.ingress.TLS = id.OutsideTLS()
		}
		s.gen = load.NewGen(s.data, s.ingress, uint64(s.cfg.Seed), s.runID)
		s.startup = time.Since(t0)
		progress("bank up and seeded with %d customers in %v; settling for %v", len(s.data.Customers), s.startup.Round(time.Millisecond), Settle)
		// A store just started and seeded is still busy (leaders for every
		// stream and bucket, the seed's writes replicated): a scenario that
		// began at once saw a one-second stall in its steady window.
		time.Sleep(Settle)
	})
	return s.startErr
}

// endpoint returns where the harness reaches inst's own server (its API,
// /metrics, /admin), through the platform.
func (s *suite) endpoint(ctx context.Context, inst platform.Instance) (string, error) {
	ep, err := platform.As[platform.Endpoints](s.plat, "reaching an instance from the harness")
	if err != nil {
		return "", err
	}
	return ep.Endpoint(ctx, inst.Name)
}

// recordEvents copies platform events into the history, attributed to the
// scenario running at the time.
func (s *suite) recordEvents(p platform.Platform) {
	for e := range p.Events() {
		s.hist.AddEvent(history.Event{Scenario: s.scenario(), At: s.hist.Since(e.Time), Kind: e.Kind, Target: e.Instance, Detail: e.Detail})
	}
}

var (
	runningMu sync.Mutex
	running   string
)

func (s *suite) scenario() string {
	runningMu.Lock()
	defer runningMu.Unlock()
	return running
}

func setRunning(name string) {
	runningMu.Lock()
	running = name
	runningMu.Unlock()
}

// finish stops the bank, saves the run and renders the report.
func (s *suite) finish() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.plat != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.plat.Stop(ctx); err != nil {
			progress("stop: %v", err)
		}
	}
	// The store's data is only needed while the bank runs; logs stay.
	_ = os.RemoveAll(filepath.Join(s.dir, "store"))
	run := s.result()
	if err := s.hist.Close(); err != nil {
		return err
	}
	if len(run.Scenarios) == 0 {
		_ = os.RemoveAll(s.dir)
		return nil
	}
	if err := run.Save(s.dir); err != nil {
		return fmt.Errorf("save results: %w", err)
	}
	if err := renderReport(s.dir); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	passed := 0
	for _, sc := range run.Scenarios {
		if sc.Verdict == check.Valid {
			passed++
		}
	}
	summary := fmt.Sprintf("faultline: %d of %d scenarios passed in %v; verdict %s\n", passed, len(run.Scenarios), run.Duration.Round(time.Second), run.Verdict) +
		fmt.Sprintf("faultline: run folder %s\n", s.dir) +
		fmt.Sprintf("faultline: report %s\n", filepath.Join(s.dir, "index.html")) +
		fmt.Sprintf("faultline: junit %s, trend %s\n", filepath.Join(s.dir, "junit.xml"), filepath.Join(filepath.Dir(s.dir), "trend.html"))
	fmt.Print(summary)
	// go test hides a passing package's output unless -v: tell a person at a
	// terminal anyway where the report is (outside go test, as in a game
	// day, the output is the terminal).
	if testing.Testing() && !testing.Verbose() {
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprint(tty, summary)
			tty.Close()
		}
	}
	return nil
}

func (s *suite) result() *result.Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &result.Run{ID: s.runID, Platform: s.cfg.Platform, Started: s.started, Duration: time.Since(s.started),
		Seed: s.cfg.Seed, Scale: s.cfg.Scale, Rate: s.cfg.Rate, Customers: s.cfg.Customers,
		Versions: map[string]string{"go": runtime.Version(), "faultline": buildVersion()},
		Verdict:  check.Valid, Scenarios: append([]result.Scenario(nil), s.results...),
		Ops: len(s.hist.Ops("")), Events: len(s.hist.Events("")), StartupMs: s.startup.Milliseconds()}
	if v, ok := s.plat.(platform.Versions); ok {
		maps.Copy(r.Versions, v.Versions())
	}
	for _, sc := range r.Scenarios {
		if sc.Verdict == check.Invalid || (sc.Verdict == check.Unknown && r.Verdict == check.Valid) {
			r.Verdict = sc.Verdict
		}
	}
	return r
}
