package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/host"
	"github.com/faultline/faultline/groundwork/result"
)

// cell makes a judged cell on target whose fault had effects (feature ->
// effect); every other feature was unaffected.
func sweepCell(kind, target string, effects map[string]check.Effect) result.Cell {
	c := result.Cell{Target: target, Kind: kind, Fault: result.Fault{Name: kind + " " + target, Injected: time.Second, Recovered: 2 * time.Second}}
	for _, f := range []string{"support", "card-auth", "payments", "freeze", "balance", "feed", "emoji", "profile", "merchant-logos"} {
		e, ok := effects[f]
		if !ok {
			e = check.Unaffected
		}
		c.Features = append(c.Features, result.FeatureEffect{Feature: f, Effect: e, Why: "figures"})
	}
	return c
}

func TestSweepContractsNameTheirCells(t *testing.T) {
	cells := []result.Cell{
		sweepCell("kill-all", "emoji", map[string]check.Effect{"emoji": check.Broken}),
		sweepCell("kill-one", "card-processing", map[string]check.Effect{"card-auth": check.Degraded}),
		sweepCell("kill-all", "card-processing", map[string]check.Effect{"card-auth": check.Broken}),
		sweepCell("pause-all", "merchant", map[string]check.Effect{"payments": check.Degraded, "merchant-logos": check.Broken}),
		sweepCell("kill-all", "feed", map[string]check.Effect{"balance": check.NotJudged}),
		{Target: "pots", Kind: "latency-in", Skipped: "nothing calls it"},
	}
	breaches, unjudged := contracts(cells, nil)
	require.Len(t, breaches, 2)
	assert.Equal(t, []string{"kill-one card-processing"}, breaches[0].Cells, "one replica of several must not touch tier 0")
	assert.Equal(t, []string{"pause-all merchant"}, breaches[1].Cells, "a tier 3 fault must not touch tier 1")
	assert.Equal(t, "payments", breaches[1].Feature)
	require.Len(t, unjudged, 1)
	assert.Contains(t, unjudged[0], "kill-all feed/balance")

	r := contractCheck(breaches, unjudged)
	assert.Equal(t, check.Invalid, r.Verdict)
	assert.Contains(t, r.Summary, "kill-one card-processing, pause-all merchant")

	// A breach while the host was busy with other work is not judged.
	busy := []host.Sample{{At: 0, Others: 0, Total: 100}, {At: 2 * time.Second, Others: 50, Total: 100}}
	breaches, unjudged = contracts(cells[1:2], busy)
	assert.Empty(t, breaches)
	require.Len(t, unjudged, 1)
	assert.Contains(t, unjudged[0], "busy")
	assert.Equal(t, check.Unknown, contractCheck(breaches, unjudged).Verdict)
}

func TestSweepPathsShowHiddenAndUnmeasuredServices(t *testing.T) {
	cells := []result.Cell{
		sweepCell("kill-all", "emoji", map[string]check.Effect{"emoji": check.Broken}),
		sweepCell("pause-all", "merchant", map[string]check.Effect{"payments": check.Degraded}),
		sweepCell("kill-all", "profile", nil),
	}
	paths := measuredPaths(cells)
	byFeature := map[string]result.Path{}
	for _, p := range paths {
		byFeature[p.Feature] = p
	}
	assert.Equal(t, []string{"emoji"}, byFeature["emoji"].Measured)
	assert.Equal(t, []string{"merchant"}, byFeature["payments"].Measured)
	fs := pathFindings(cells, paths)
	var kinds []string
	for _, f := range fs {
		kinds = append(kinds, f.Kind+" "+f.Feature+" "+f.Service)
	}
	assert.Contains(t, kinds, "hidden-dependency payments merchant")
	assert.Contains(t, kinds, "declared-not-measured profile profile", "profile was swept and never hurt its own feature")
	assert.Contains(t, kinds, "declared-not-measured merchant-logos merchant", "merchant was swept and did not hurt logos")
	for _, f := range fs {
		if f.Kind == "hidden-dependency" {
			assert.True(t, strings.Contains(f.Detail, "pause-all merchant"), f.Detail)
		}
	}
}

func TestSweepCellsSkipKindsThatCannotAct(t *testing.T) {
	sw := Sweep{Targets: []string{"pots", "emoji", "card-api", "store-1"}}
	require.NoError(t, sw.defaults(1, false))
	require.NoError(t, sw.Validate())
	skipped := map[string]string{}
	for _, c := range sw.cells() {
		if c.Skipped != "" {
			skipped[cellName(c)] = c.Skipped
		}
	}
	assert.Contains(t, skipped, "latency-in pots", "nothing calls pots")
	assert.Contains(t, skipped, "kill-one emoji", "emoji has one replica")
	assert.NotContains(t, skipped, "latency-in card-api", "the card network calls card-api")
	assert.NotContains(t, skipped, "partition-in store-1")
	assert.Contains(t, skipped, "errors-in store-1")

	bad := Sweep{Targets: []string{"nope", "store-7"}, Kinds: []string{"melt"}}
	require.NoError(t, bad.defaults(1, false))
	err := bad.Validate()
	assert.ErrorContains(t, err, `target "nope"`)
	assert.ErrorContains(t, err, `target "store-7"`)
	assert.ErrorContains(t, err, `fault kind "melt"`)
}

// TestSweepBreachesMustHappenAgain: a cell that breached a contract is run
// a second time; the breach counts only when the second run shows it too,
// and a path is measured only from effects a second run did not refute.
func TestSweepBreachesMustHappenAgain(t *testing.T) {
	twice := func(first, second check.Effect) result.Cell {
		c := sweepCell("partition-in", "profile", map[string]check.Effect{"card-auth": first})
		a := sweepCell("partition-in", "profile", map[string]check.Effect{"card-auth": second})
		c.Again = &a
		return c
	}
	breaches, unjudged := contracts([]result.Cell{twice(check.Degraded, check.Unaffected)}, nil)
	assert.Empty(t, breaches, "a breach the second run did not show")
	require.Len(t, unjudged, 1)
	assert.Contains(t, unjudged[0], "not reproduced")

	breaches, _ = contracts([]result.Cell{twice(check.Degraded, check.Broken)}, nil)
	require.Len(t, breaches, 1)
	assert.Contains(t, breaches[0].Detail, "and broken again")

	unsteady := twice(check.Degraded, check.Degraded)
	unsteady.Again.Unsteady = "not steady"
	breaches, unjudged = contracts([]result.Cell{unsteady}, nil)
	assert.Empty(t, breaches)
	require.Len(t, unjudged, 1)
	assert.Contains(t, unjudged[0], "second run could not be judged")

	paths := measuredPaths([]result.Cell{twice(check.Degraded, check.Unaffected)})
	for _, p := range paths {
		if p.Feature == "card-auth" {
			assert.NotContains(t, p.Measured, "profile", "refuted by the second run")
		}
	}
	paths = measuredPaths([]result.Cell{twice(check.Degraded, check.Degraded)})
	for _, p := range paths {
		if p.Feature == "card-auth" {
			assert.Contains(t, p.Measured, "profile")
		}
	}
}

// TestSweepRecoveryTellsSlowFromStuck: deferred work still going down
// when the wait ended makes the recovery check unknown; work that stopped
// going down, or a bank not steady, makes it invalid, in a second run too.
func TestSweepRecoveryTellsSlowFromStuck(t *testing.T) {
	slow := sweepCell("pause-all", "transactions", nil)
	slow.BackError, slow.CatchingUp = "deferred work did not catch up: consumer enrichment of transaction-enrichment has 169 messages left", true
	stuck := sweepCell("latency-in", "transactions", nil)
	stuck.BackError = "deferred work did not catch up: consumer feed-generator of feed-generator has 181 messages left"
	fine := sweepCell("kill-all", "emoji", nil)

	r := backCheck([]result.Cell{fine, slow})
	assert.Equal(t, check.Unknown, r.Verdict, r.Summary)
	assert.Contains(t, r.Summary, "still catching up")
	require.Len(t, r.Examples, 1)

	r = backCheck([]result.Cell{fine, slow, stuck})
	assert.Equal(t, check.Invalid, r.Verdict, r.Summary)
	assert.Contains(t, r.Summary, "not back after 1 cells")

	again := sweepCell("kill-all", "emoji", nil)
	again.Again = &stuck
	assert.Equal(t, check.Invalid, backCheck([]result.Cell{again}).Verdict, "the second run counts too")
	assert.Equal(t, check.Valid, backCheck([]result.Cell{fine}).Verdict)
}
