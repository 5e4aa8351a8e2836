package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/groundwork/platform/local"
)

// rssKiB returns a process's resident set size.
func rssKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// Mesh starts the whole bank, reports its start-to-ready time and memory,
// then steps the card authorisation rate and reports latency at each step
// and the highest rate whose p99 stays under p99Goal.
func Mesh(ctx context.Context, rates []float64, step time.Duration, p99Goal time.Duration, out Report) error {
	dir, err := os.MkdirTemp("", "faultline-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	j, err := journal.Open(journal.DefaultDir(), filepath.Base(dir))
	if err != nil {
		return err
	}
	// Build first, so that start-to-ready is the mesh's, not the compiler's.
	root, err := local.ModuleRoot()
	if err != nil {
		return err
	}
	cache := filepath.Join(os.TempDir(), "faultline-bench-cache")
	if _, err := local.BuildBank(ctx, root, cache); err != nil {
		return err
	}
	p, err := local.New(local.Options{RunDir: dir, Journal: j, CacheDir: cache})
	if err != nil {
		return err
	}
	defer p.Stop(context.Background())
	t0 := time.Now()
	if err := p.Start(ctx); err != nil {
		return err
	}
	ready := time.Since(t0)
	data, err := p.Seed(ctx, 200, 1)
	if err != nil {
		return err
	}
	var total int64
	insts := p.Instances("")
	for _, in := range insts {
		if pid, ok := p.PID(in.Name); ok {
			total += rssKiB(pid)
		}
	}
	self := rssKiB(os.Getpid())
	out("mesh: %d instances ready %v after start; resident memory %.0f MiB in bank processes + %.0f MiB harness (sidecars included)",
		len(insts), ready.Round(time.Millisecond), float64(total)/1024, float64(self)/1024)

	h, _ := history.New("")
	g := load.NewGen(data, load.Ingress{Edge: func() []string { return p.Ingress("edge") },
		CardAPI: func() []string { return p.Ingress("card-api") }, CardKey: p.CardKey(), TLS: p.OutsideTLS()}, 1, "bench-"+filepath.Base(dir))
	best := 0.0
	for _, r := range rates {
		name := fmt.Sprintf("rate-%.0f", r)
		st, err := load.Attack(ctx, h, name, g, []load.Plan{{Journey: "card-auth", Rate: r, Duration: step}})
		if err != nil {
			return err
		}
		ops := h.Ops(name)
		s := check.Compute(ops, "card-auth", check.Window{From: 0, To: time.Hour})
		approved := 0
		for _, o := range ops {
			if o.Result == "00" {
				approved++
			}
		}
		out("card-auth at %4.0f/s: sent %5.1f%%, success %.2f%% (approved %.0f%%), p50 %v p95 %v p99 %v, send lag p99 %v",
			r, 100*st[0].SentRatio, 100*s.Success, 100*float64(approved)/float64(max(1, len(ops))), s.P50.Round(10*time.Microsecond), s.P95.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), st[0].LagP99)
		if s.P99 < p99Goal && s.Success >= 0.999 && st[0].SentRatio >= 0.99 {
			best = r
		}
	}
	out("card-auth capacity: highest rate with p99 under %v: %.0f/s", p99Goal, best)
	return nil
}
