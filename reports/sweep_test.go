package reports_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/reports"
)

// A sweep's findings come first on the page, then each feature's declared
// and measured path, then the matrix with every cell's grade.
func TestReportShowsTheSweep(t *testing.T) {
	dir := savedRun(t)
	run, err := result.Load(dir)
	require.NoError(t, err)
	effect := func(f string, e check.Effect) result.FeatureEffect {
		return result.FeatureEffect{Feature: f, Effect: e, Why: "success 100.0% -> 40.0%", Drop: 0.6, P99Delta: 700 * time.Millisecond, Recovery: 1500 * time.Millisecond,
			Before: check.Stats{Journey: f, Count: 30, OK: 30, Success: 1}, During: check.Stats{Journey: f, Count: 50, OK: 20, Success: 0.4}}
	}
	sw := &result.Sweep{Thresholds: check.DefaultThresholds, Baseline: 3 * time.Second, Window: 5 * time.Second,
		Cells: []result.Cell{
			{Target: "emoji", Kind: "pause-all", Fault: result.Fault{Name: "pause all of emoji"}, Back: 2 * time.Second,
				Features: []result.FeatureEffect{effect("card-auth", check.Degraded), effect("emoji", check.Broken)}},
			{Target: "pots", Kind: "latency-in", Skipped: "nothing calls it: it only works from the store"},
		},
		Paths: []result.Path{{Feature: "card-auth", Tier: 0, Declared: []string{"card-api", "emoji"}, Measured: []string{"emoji", "feed"}}},
		Findings: []result.Finding{{Kind: "contract", Feature: "card-auth", Service: "emoji", Cells: []string{"pause-all emoji"},
			Detail: "pause-all emoji: card-auth degraded: a fault on a tier 3 service must not degrade a tier 0 feature"}},
	}
	run.Scenarios = append(run.Scenarios, result.Scenario{Name: "TestSweep", Verdict: check.Invalid, Sweep: sw,
		Faults: []result.Fault{{Name: "pause all of emoji"}}, Recovery: map[string]time.Duration{}})
	require.NoError(t, run.Save(dir))
	require.NoError(t, reports.WriteDir(dir))
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	page := string(b)

	sweep := strings.Index(page, `id="sweep-TestSweep"`)
	require.Positive(t, sweep, "the sweep has its section")
	assert.Less(t, sweep, strings.Index(page, "<h2>Blast radius</h2>"), "before the scenarios' matrix")
	assert.Contains(t, page, "<b>contract</b>: pause-all emoji: card-auth degraded")
	assert.Contains(t, page, `<span class="invalid">+feed</span>`, "measured, not declared")
	assert.NotContains(t, page, `−card-api`, "card-api was not swept: it cannot be missing")
	assert.Contains(t, page, `class="b2" title="success 100.0% -&gt; 40.0%">◑ -60.0%`, "degraded card-auth")
	assert.Contains(t, page, `class="b3"`, "broken emoji")
	assert.Contains(t, page, "&#43;700 ms · 1.5s")
	assert.Contains(t, page, "not run: nothing calls it")
	assert.Contains(t, page, "1 faults, one at a time")
}
