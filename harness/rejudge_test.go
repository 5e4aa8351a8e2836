package harness_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/system/transactions"
)

// savedRun writes a run folder with one scenario whose card authorisations
// were all approved, and the ledger evidence given.
func savedRun(t *testing.T, refs map[string]transactions.RefSummary) string {
	t.Helper()
	dir := t.TempDir()
	var lines []byte
	for i := range 300 {
		o := history.Op{Scenario: "S", Journey: "card-auth", Start: time.Duration(i) * 100 * time.Millisecond, Latency: 5 * time.Millisecond,
			Outcome: history.OK, Result: "00", Key: "k" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Amount: 100, Attempts: 1}
		b, _ := json.Marshal(o)
		lines = append(append(lines, b...), '\n')
		if refs != nil {
			if _, ok := refs[o.Key]; !ok {
				refs[o.Key] = transactions.RefSummary{Debits: 1, Net: -100}
			}
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ops.jsonl"), lines, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "events.jsonl"), nil, 0o600))
	slo := check.SLO{MinSuccess: 0.99, P99: 300 * time.Millisecond, MinOps: 5}
	sc := result.Scenario{Name: "S", Start: 0, End: 30 * time.Second, Verdict: check.Valid, Windows: map[string][2]time.Duration{},
		Load: []load.Stats{{Journey: "card-auth", Asked: 300, Sent: 300, SentRatio: 1}},
		Plan: &result.Plan{Faults: check.Span{From: 10 * time.Second, To: 18 * time.Second}, AfterLen: 12 * time.Second,
			RecoveryFrom: 18 * time.Second, MaxRecovery: 10 * time.Second, Objectives: []result.Objective{
				{Journey: "card-auth", Window: check.Steady, Check: "slo", SLO: slo},
				{Journey: "card-auth", Window: check.During, Check: "slo", SLO: slo},
				{Journey: "card-auth", Window: check.After, Check: "slo", SLO: slo}}},
		Evidence: "evidence-01.json",
		Checks:   []check.Result{{Check: "leftovers", Verdict: check.Valid, Summary: "nothing left injected"}}}
	run := &result.Run{ID: "r", Verdict: check.Valid, Scenarios: []result.Scenario{sc}}
	require.NoError(t, run.Save(dir))
	require.NoError(t, result.SaveEvidence(dir, "evidence-01.json", result.Evidence{Audit: transactions.Audit{OK: true, Refs: refs}}))
	return dir
}

func TestRejudgeFromTheRunFolder(t *testing.T) {
	dir := savedRun(t, map[string]transactions.RefSummary{})
	changed, err := harness.Rejudge(dir)
	require.NoError(t, err)
	assert.Zero(t, changed)
	run, err := result.Load(dir)
	require.NoError(t, err)
	sc := run.Scenarios[0]
	assert.Equal(t, check.Valid, sc.Verdict, sc.Failures)
	names := map[string]bool{}
	for _, c := range sc.Checks {
		names[c.Check] = true
	}
	for _, want := range []string{"slo", "recovery", "load", "money", "exercise", "answers", "leftovers"} {
		assert.True(t, names[want], "check %s made or kept", want)
	}
}

func TestRejudgeSeesMoneyTheLedgerContradicts(t *testing.T) {
	// One approval the ledger never debited.
	dir := savedRun(t, map[string]transactions.RefSummary{"kaa": {}})
	changed, err := harness.Rejudge(dir)
	require.NoError(t, err)
	assert.Equal(t, 1, changed)
	run, err := result.Load(dir)
	require.NoError(t, err)
	assert.Equal(t, check.Invalid, run.Verdict)
	require.NotEmpty(t, run.Scenarios[0].Failures)
	assert.Contains(t, run.Scenarios[0].Failures[0], "kaa approved for 100 but the ledger has 0 debits")
}

func TestRejudgeWithoutEvidenceIsUnknown(t *testing.T) {
	dir := savedRun(t, map[string]transactions.RefSummary{})
	require.NoError(t, os.Remove(filepath.Join(dir, "evidence-01.json")))
	_, err := harness.Rejudge(dir)
	require.NoError(t, err)
	run, err := result.Load(dir)
	require.NoError(t, err)
	assert.Equal(t, check.Unknown, run.Scenarios[0].Verdict)
}
