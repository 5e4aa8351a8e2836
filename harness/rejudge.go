package harness

import (
	"fmt"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/result"
)

// Rejudge judges a saved run again from its folder alone: its history
// (ops.jsonl), each scenario's plan (results.json) and money evidence
// (evidence-NN.json), with today's checkers. Checks only a live run can
// make (faults that failed, leftovers, a scenario's own checks) keep their
// saved results. It rewrites results.json and returns how many scenarios'
// verdicts changed. A scenario saved without a plan (an older run) is left
// as it was.
func Rejudge(dir string) (changed int, err error) {
	run, err := result.Load(dir)
	if err != nil {
		return 0, fmt.Errorf("rejudge %s: %w", dir, err)
	}
	ops, _, err := history.Load(dir)
	if err != nil {
		return 0, fmt.Errorf("rejudge %s: read history: %w", dir, err)
	}
	byScenario := map[string][]history.Op{}
	for _, o := range ops {
		byScenario[o.Scenario] = append(byScenario[o.Scenario], o)
	}
	run.Verdict = check.Valid
	for i, sc := range run.Scenarios {
		if sc.Plan != nil {
			ev := result.Evidence{Error: "no evidence saved with the run"}
			if sc.Evidence != "" {
				if ev, err = result.LoadEvidence(dir, sc.Evidence); err != nil {
					ev = result.Evidence{Error: fmt.Sprintf("evidence %s unreadable: %v", sc.Evidence, err)}
				}
			}
			before := sc.Verdict
			sc = Judge(sc, byScenario[sc.Name], ev)
			if sc.Verdict != before {
				changed++
			}
			run.Scenarios[i] = sc
		}
		if sc.Verdict == check.Invalid || (sc.Verdict == check.Unknown && run.Verdict == check.Valid) {
			run.Verdict = sc.Verdict
		}
	}
	if err := run.Save(dir); err != nil {
		return changed, fmt.Errorf("rejudge %s: %w", dir, err)
	}
	return changed, nil
}
