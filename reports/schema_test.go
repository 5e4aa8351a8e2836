package reports_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/reports"
)

// breakResults rewrites dir/results.json through edit.
func breakResults(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	file := filepath.Join(dir, "results.json")
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	edit(doc)
	b, err = json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, b, 0o644))
}

func TestReportRefusesResultsThatDoNotMatchTheSchema(t *testing.T) {
	dir := savedRun(t)
	breakResults(t, dir, func(doc map[string]any) {
		doc["platform"] = "mars"
		delete(doc, "seed")
		sc := doc["scenarios"].([]any)[0].(map[string]any)
		sc["verdict"] = "fine"
		sc["start"] = "soon"
	})
	err := reports.WriteDir(dir)
	require.Error(t, err)
	var se *reports.SchemaError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, filepath.Join(dir, "results.json"), se.File)
	assert.Len(t, se.Problems, 4)
	msg := err.Error()
	for _, want := range []string{filepath.Join(dir, "results.json"), "results.schema.json", "/platform", "seed", "/scenarios/0/verdict", "/scenarios/0/start"} {
		assert.Contains(t, msg, want)
	}
	assert.NoFileExists(t, filepath.Join(dir, "index.html"))
}

func TestReportRefusesResultsThatAreNotJSON(t *testing.T) {
	dir := savedRun(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "results.json"), []byte(`{"id": "x", `), 0o644))
	err := reports.WriteDir(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "results.json"))
}

func TestTrendLeavesOutAndNamesRunsThatDoNotMatch(t *testing.T) {
	good := savedRun(t)
	runs := filepath.Dir(good)
	bad := filepath.Join(runs, "20261128-040000-0000")
	require.NoError(t, os.MkdirAll(bad, 0o755))
	b, err := os.ReadFile(filepath.Join(good, "results.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bad, "results.json"), b, 0o644))
	breakResults(t, bad, func(doc map[string]any) { doc["verdict"] = "fine" })

	require.NoError(t, reports.WriteTrend(runs))
	page, err := os.ReadFile(filepath.Join(runs, "trend.html"))
	require.NoError(t, err)
	assert.Contains(t, string(page), filepath.Base(good)+"/index.html")
	assert.NotContains(t, string(page), filepath.Base(bad)+"/index.html")
	assert.Contains(t, string(page), filepath.Join(bad, "results.json")+" does not match results.schema.json: /verdict")
}

// A run the harness writes matches the schema even where Go writes null:
// a scenario that stopped before its checks ran has no checks, statistics,
// windows or recovery times.
func TestSparseResultsMatchTheSchema(t *testing.T) {
	for name, run := range map[string]*result.Run{
		"no scenarios":   {ID: "20261201-000000-0001", Platform: "local", Started: time.Now(), Verdict: check.Unknown},
		"empty scenario": {ID: "20261201-000000-0002", Platform: "local", Started: time.Now(), Verdict: check.Invalid, Scenarios: []result.Scenario{{Name: "TestX", Verdict: check.Invalid}}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, run.Save(dir))
			got, err := reports.ReadResults(dir)
			require.NoError(t, err)
			assert.Equal(t, run.ID, got.ID)
		})
	}
}
