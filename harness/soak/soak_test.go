package soak_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/harness/soak"
)

// fakeRun is a results.json with the given verdicts per scenario.
func fakeRun(id string, verdicts map[string]check.Verdict) *result.Run {
	r := &result.Run{ID: id, Platform: "local", Started: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Verdict: check.Valid}
	for _, name := range []string{"TestA", "TestB", "TestC"} {
		v, ok := verdicts[name]
		if !ok {
			v = check.Valid
		}
		sc := result.Scenario{Name: name, Verdict: v, Checks: []check.Result{{Check: "money", Verdict: check.Valid, Summary: "conserved"}}}
		switch v {
		case check.Invalid:
			sc.Failures = []string{"slo check failed for journey payments in window during: success 97.92% < 98.00%\n    first bad example: reset"}
		case check.Unknown:
			sc.Checks = append(sc.Checks,
				check.Result{Check: "slo", Journey: "emoji", Window: "after", Verdict: check.Unknown, Summary: "0 ops, fewer than 1"},
				check.Result{Check: "load", Journey: "support", Verdict: check.Unknown, Summary: "sent 80% of asked\nmore"})
		}
		r.Scenarios = append(r.Scenarios, sc)
	}
	return r
}

// soakFolder writes runs into a new soak folder, one run folder each.
func soakFolder(t *testing.T, runs ...*result.Run) string {
	t.Helper()
	dir := t.TempDir()
	for _, r := range runs {
		d := filepath.Join(dir, r.ID)
		require.NoError(t, os.Mkdir(d, 0o700))
		require.NoError(t, r.Save(d))
	}
	return dir
}

func TestSummaryCountsVerdictsPerScenario(t *testing.T) {
	dir := soakFolder(t,
		fakeRun("20261201-000001-0001", nil),
		fakeRun("20261201-000002-0002", map[string]check.Verdict{"TestB": check.Invalid}),
		fakeRun("20261201-000003-0003", map[string]check.Verdict{"TestB": check.Unknown, "TestC": check.Unknown}),
	)
	outs, err := soak.Collect(dir)
	require.NoError(t, err)
	s := soak.Summarize(outs)

	assert.Equal(t, 3, s.Runs)
	assert.Equal(t, []soak.Row{
		{Scenario: "TestA", Valid: 3},
		{Scenario: "TestB", Valid: 1, Invalid: 1, Unknown: 1},
		{Scenario: "TestC", Valid: 2, Unknown: 1},
	}, s.Rows)
	assert.Equal(t, []soak.Alarm{
		{Run: 2, Scenario: "TestB", Verdict: check.Invalid, Reason: "slo check failed for journey payments in window during: success 97.92% < 98.00%"},
		{Run: 3, Scenario: "TestB", Verdict: check.Unknown, Reason: "load support: sent 80% of asked"},
		{Run: 3, Scenario: "TestC", Verdict: check.Unknown, Reason: "load support: sent 80% of asked"},
	}, s.Alarms)
	assert.Empty(t, s.Broken)
	assert.True(t, s.Failed(), "an invalid verdict fails the soak")

	var b bytes.Buffer
	require.NoError(t, s.Write(&b))
	want := `scenario      valid  invalid  unknown
TestA         3      0        0
TestB         1      1        1
TestC         2      0        1
all (3 runs)  6      1        2

not valid:
  run 2 TestB invalid: slo check failed for journey payments in window during: success 97.92% < 98.00%
  run 3 TestB unknown: load support: sent 80% of asked
  run 3 TestC unknown: load support: sent 80% of asked
`
	assert.Equal(t, want, b.String())
}

func TestSummaryOfACleanSoakPasses(t *testing.T) {
	outs, err := soak.Collect(soakFolder(t, fakeRun("20261201-000001-0001", nil), fakeRun("20261201-000002-0002", map[string]check.Verdict{"TestA": check.Unknown})))
	require.NoError(t, err)
	s := soak.Summarize(outs)
	assert.False(t, s.Failed(), "unknown is not a false alarm")
	assert.Len(t, s.Alarms, 1)
}

func TestSummaryNamesBrokenRuns(t *testing.T) {
	dir := soakFolder(t, fakeRun("20261201-000001-0001", nil))
	bad := filepath.Join(dir, "20261201-000002-0002")
	require.NoError(t, os.Mkdir(bad, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "results.json"), []byte(`{"id":"x","verdict":"fine"}`), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "20261201-000003-0003"), 0o700)) // killed before it wrote results
	outs, err := soak.Collect(dir)
	require.NoError(t, err)
	s := soak.Summarize(outs)
	require.Len(t, s.Broken, 2)
	assert.Contains(t, s.Broken[0], "run 2: "+filepath.Join(bad, "results.json")+" does not match results.schema.json")
	assert.Contains(t, s.Broken[1], "run 3: ")
	assert.True(t, s.Failed())
	assert.Equal(t, []soak.Row{{Scenario: "TestA", Valid: 1}, {Scenario: "TestB", Valid: 1}, {Scenario: "TestC", Valid: 1}}, s.Rows)
}

func TestArgs(t *testing.T) {
	assert.Equal(t, []string{"test", "./scenarios", "-count=1", "-timeout", "1h0m0s"}, soak.Options{}.Args())
	assert.Equal(t, []string{"test", "./scenarios", "-count=1", "-timeout", "5m0s", "-short", "-run", "TestA$"},
		soak.Options{Short: true, Run: "TestA$", Timeout: 5 * time.Minute}.Args())
}

// fakeGo writes a stand-in for the go command: run n copies results n
// (if there is one) into a new run folder in FAULTLINE_RUNS and exits with
// status n-1, as go test does when a scenario fails (run 2) or crashes
// before writing results (run 3).
func fakeGo(t *testing.T, results ...*result.Run) string {
	t.Helper()
	dir := t.TempDir()
	for i, r := range results {
		d := filepath.Join(dir, fmt.Sprint(i+1))
		require.NoError(t, os.Mkdir(d, 0o700))
		require.NoError(t, r.Save(d))
	}
	script := `#!/bin/sh
n=$(( $(cat "$0.count" 2>/dev/null || echo 0) + 1 )); echo $n > "$0.count"
echo "args: $*"
if [ -f "` + dir + `/$n/results.json" ]; then
  mkdir "$FAULTLINE_RUNS/2026120$n-000000-000$n" && cp "` + dir + `/$n/results.json" "$FAULTLINE_RUNS/2026120$n-000000-000$n/"
fi
exit $(( n - 1 ))
`
	p := filepath.Join(dir, "go")
	require.NoError(t, os.WriteFile(p, []byte(script), 0o700))
	return p
}

func TestSoakRunsTheSuiteNTimes(t *testing.T) {
	goCmd := fakeGo(t, fakeRun("20261201-000000-0001", nil), fakeRun("20261202-000000-0002", map[string]check.Verdict{"TestC": check.Invalid}))
	dir := filepath.Join(t.TempDir(), "soak")
	var progress []string
	outs, err := soak.Soak(context.Background(), soak.Options{N: 3, Short: true, Run: "TestC$", Dir: dir, Module: t.TempDir(), Go: goCmd,
		Progress: func(format string, args ...any) { progress = append(progress, fmt.Sprintf(format, args...)) }})
	require.NoError(t, err)
	require.Len(t, outs, 3)

	assert.NoError(t, outs[0].Err)
	assert.Equal(t, "20261201-000000-0001", outs[0].Run.ID)
	assert.NoError(t, outs[1].Err, "go test fails on an invalid verdict: that is the verdict, not a broken run")
	assert.Equal(t, "20261202-000000-0002", outs[1].Run.ID)
	assert.Nil(t, outs[2].Run)
	assert.ErrorContains(t, outs[2].Err, "no run folder")

	log, err := os.ReadFile(outs[0].Log)
	require.NoError(t, err)
	assert.Equal(t, "args: test ./scenarios -count=1 -timeout 1h0m0s -short -run TestC$\n", string(log))
	assert.Equal(t, filepath.Join(dir, "soak-3.log"), outs[2].Log)

	require.Len(t, progress, 6)
	assert.True(t, strings.HasPrefix(progress[0], "soak 1/3: go test ./scenarios -count=1 -timeout 1h0m0s -short -run TestC$ (output in "), progress[0])
	assert.True(t, strings.HasPrefix(progress[3], "soak 2/3: 2 valid, 1 invalid, 0 unknown after "), progress[3])

	s := soak.Summarize(outs)
	assert.Equal(t, soak.Row{Scenario: "TestC", Valid: 1, Invalid: 1}, s.Rows[2])
	assert.Len(t, s.Broken, 1)
	assert.True(t, s.Failed())
}

func TestSoakStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	outs, err := soak.Soak(ctx, soak.Options{N: 3, Dir: t.TempDir(), Go: "false"})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, outs)
}
