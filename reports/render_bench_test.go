package reports_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/system/topology"
)

// bigRun writes a run of 20 scenarios and 300,000 requests (30 s each, 500
// requests a second over the nine journeys) to dir.
func bigRun(b *testing.B, dir string) {
	rnd := rand.New(rand.NewPCG(1, 2))
	f, err := os.Create(filepath.Join(dir, "ops.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	run := &result.Run{ID: "bench", Platform: "local", Started: time.Now(), Verdict: check.Valid}
	const perScenario = 15000
	for i := range 20 {
		name := fmt.Sprintf("TestScenario%02d", i)
		start := time.Duration(i) * 35 * time.Second
		sc := result.Scenario{Name: name, Runbook: "synthetic", Verdict: check.Valid, Start: start, End: start + 30*time.Second,
			Recovery: map[string]time.Duration{},
			Faults:   []result.Fault{{Name: "kill 1 of balance", Injected: start + 5*time.Second, Recovered: start + 15*time.Second}}}
		for _, f := range topology.Features {
			for _, win := range []string{"steady", "during", "after"} {
				sc.Stats = append(sc.Stats, check.Stats{Journey: f.Name, Window: win, Count: 100, Success: 0.99, P50: time.Millisecond, P99: 10 * time.Millisecond})
			}
		}
		for k := range perScenario {
			o := history.Op{Scenario: name, Journey: topology.Features[k%len(topology.Features)].Name, Start: start + time.Duration(k)*2*time.Millisecond,
				Latency: time.Duration(rnd.IntN(20_000_000)), Outcome: history.OK, Status: 200}
			bs, _ := json.Marshal(o)
			w.Write(append(bs, '\n'))
		}
		run.Scenarios = append(run.Scenarios, sc)
	}
	w.Flush()
	f.Close()
	os.WriteFile(filepath.Join(dir, "events.jsonl"), nil, 0o644)
	if err := run.Save(dir); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRender renders a 20-scenario, 300,000-request run and reports
// the page's size.
func BenchmarkRender(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "runs", "bench")
	os.MkdirAll(dir, 0o755)
	bigRun(b, dir)
	b.ResetTimer()
	for b.Loop() {
		if err := reports.WriteDir(dir); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	fi, _ := os.Stat(filepath.Join(dir, "index.html"))
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB/page")
}
