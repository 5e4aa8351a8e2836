package harness

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/host"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/system/topology"
)

// What the sweep holds its cells to, once they have all run. Each
// function reads only the saved cells (and the host's samples), so a
// saved sweep reads the same way again.

// cellName names a cell in findings and failures.
func cellName(c result.Cell) string { return c.Kind + " " + c.Target }

// cellJudged reports whether a cell tells anything: it ran, on a steady bank,
// and its fault went in and did something.
func cellJudged(c result.Cell) bool {
	return c.Skipped == "" && c.Unsteady == "" && c.Fault.Error == "" && !c.Fault.Unsupported && c.Fault.NoEffect == ""
}

// hurt reports whether an effect counts against a critical path or a
// contract.
func hurt(e check.Effect) bool { return e == check.Degraded || e == check.Broken }

// again returns feature's effect in the cell's second run (Cell.Again),
// and whether that run told anything about it.
func again(c result.Cell, feature string) (result.FeatureEffect, bool) {
	if c.Again == nil || !cellJudged(*c.Again) || c.Again.Unsteady != "" {
		return result.FeatureEffect{}, false
	}
	for _, fe := range c.Again.Features {
		if fe.Feature == feature && fe.Effect != check.NotJudged {
			return fe, true
		}
	}
	return result.FeatureEffect{}, false
}

// hurtIn reports whether fe, a feature's effect in cell c, hurt it: the
// cell hurt it and did not, run again, leave it unaffected.
func hurtIn(c result.Cell, fe result.FeatureEffect) bool {
	if !hurt(fe.Effect) {
		return false
	}
	second, ok := again(c, fe.Feature)
	return !ok || hurt(second.Effect)
}

// measuredPaths returns, for each feature, the services (and store
// nodes) a fault on which degraded or broke it, next to the services the
// mesh description declares on its path.
func measuredPaths(cells []result.Cell) []result.Path {
	var out []result.Path
	for _, f := range topology.Features {
		p := result.Path{Feature: f.Name, Tier: f.Tier, Declared: slices.Clone(topology.ServicesOf(f.Name)), Measured: []string{}}
		for _, c := range cells {
			if !cellJudged(c) {
				continue
			}
			for _, fe := range c.Features {
				if fe.Feature == f.Name && hurtIn(c, fe) && !slices.Contains(p.Measured, c.Target) {
					p.Measured = append(p.Measured, c.Target)
				}
			}
		}
		sort.Strings(p.Measured)
		out = append(out, p)
	}
	return out
}

// pathFindings lists every difference between a measured and a declared
// path: a service whose faults hurt a feature it is not declared to serve
// (a hidden dependency; a store node is on every path), and a declared
// service whose loss (every replica killed or paused) the sweep judged
// without the feature being hurt (declared, but not on the path).
func pathFindings(cells []result.Cell, paths []result.Path) []result.Finding {
	// A declared service can be missing from a path only if the sweep took
	// it away whole (killed or paused every replica) and looked.
	swept := map[[2]string]bool{} // target, feature
	for _, c := range cells {
		if !cellJudged(c) || (c.Kind != "kill-all" && c.Kind != "pause-all") {
			continue
		}
		for _, fe := range c.Features {
			if fe.Effect != check.NotJudged {
				swept[[2]string{c.Target, fe.Feature}] = true
			}
		}
	}
	var out []result.Finding
	for _, p := range paths {
		for _, s := range p.Measured {
			if slices.Contains(p.Declared, s) || isStoreNode(s) {
				continue // every path writes through the store
			}
			var which []string
			for _, c := range cells {
				for _, fe := range c.Features {
					if c.Target == s && fe.Feature == p.Feature && hurtIn(c, fe) && cellJudged(c) {
						which = append(which, fmt.Sprintf("%s (%s: %s)", cellName(c), fe.Effect, fe.Why))
					}
				}
			}
			out = append(out, result.Finding{Kind: "hidden-dependency", Feature: p.Feature, Service: s, Cells: cellNames(cells, s, p.Feature),
				Detail: fmt.Sprintf("%s is not on %s's declared path (%s), but %s: a dependency the path does not name, or a resource they share (the machine's CPU, a caller both go through)",
					s, p.Feature, strings.Join(p.Declared, ", "), strings.Join(which, "; "))})
		}
		for _, s := range p.Declared {
			if swept[[2]string{s, p.Feature}] && !slices.Contains(p.Measured, s) {
				out = append(out, result.Finding{Kind: "declared-not-measured", Feature: p.Feature, Service: s,
					Detail: fmt.Sprintf("%s is declared on %s's path, but no fault the sweep put on it degraded %s", s, p.Feature, p.Feature)})
			}
		}
	}
	return out
}

func cellNames(cells []result.Cell, target, feature string) []string {
	var out []string
	for _, c := range cells {
		for _, fe := range c.Features {
			if c.Target == target && fe.Feature == feature && hurtIn(c, fe) && cellJudged(c) {
				out = append(out, cellName(c))
			}
		}
	}
	return out
}

// contracts checks the tier contracts over every cell: a fault on a tier
// 2-3 service leaves every tier 0-1 feature unaffected, and a fault that
// takes away one instance of several (one replica, one store node) leaves
// every tier 0 feature unaffected. A breach in a cell while the host was
// busy with other work (HostBusyLimit) is not the bank's to answer for: it
// is listed among the cells that could not be judged. So is a cell whose
// feature held too few requests, or that began on a bank not yet steady,
// and a breach the cell's second run (Cell.Again) did not show again or
// could not judge: a dependency hurts every time.
func contracts(cells []result.Cell, samples []host.Sample) (breaches []result.Finding, unjudged []string) {
	for _, c := range cells {
		if c.Skipped != "" {
			continue
		}
		tier := sweepTier(c.Target)
		for _, fe := range c.Features {
			ft := journeyTier(fe.Feature)
			var rule string
			switch {
			case tier >= 2 && ft <= 1:
				rule = fmt.Sprintf("a fault on a tier %d service must not degrade a tier %d feature", tier, ft)
			case singleInstance(c.Kind, c.Target) && ft == 0:
				rule = "a fault on one instance of several must not degrade a tier 0 feature"
			default:
				continue
			}
			busy, ok := host.Busy(samples, c.Fault.Injected, c.Fault.Recovered)
			switch {
			case c.Unsteady != "":
				unjudged = append(unjudged, fmt.Sprintf("%s/%s: %s", cellName(c), fe.Feature, c.Unsteady))
			case !cellJudged(c):
				unjudged = append(unjudged, fmt.Sprintf("%s/%s: the fault did not take: %s", cellName(c), fe.Feature, c.Fault.Error+c.Fault.NoEffect))
			case fe.Effect == check.NotJudged:
				unjudged = append(unjudged, fmt.Sprintf("%s/%s: %s", cellName(c), fe.Feature, fe.Why))
			case hurt(fe.Effect) && ok && busy > HostBusyLimit:
				unjudged = append(unjudged, fmt.Sprintf("%s/%s: %s (%s) while the host was %.0f%% busy with other work", cellName(c), fe.Feature, fe.Effect, fe.Why, 100*busy))
			case hurt(fe.Effect) && c.Again != nil:
				second, ok := again(c, fe.Feature)
				switch {
				case !ok:
					unjudged = append(unjudged, fmt.Sprintf("%s/%s: %s (%s), and the second run could not be judged", cellName(c), fe.Feature, fe.Effect, fe.Why))
				case !hurt(second.Effect):
					unjudged = append(unjudged, fmt.Sprintf("%s/%s: %s (%s), but %s when run again (%s): not reproduced", cellName(c), fe.Feature, fe.Effect, fe.Why, second.Effect, second.Why))
				default:
					breaches = append(breaches, result.Finding{Kind: "contract", Feature: fe.Feature, Service: c.Target, Cells: []string{cellName(c)},
						Detail: fmt.Sprintf("%s: %s %s (%s), and %s again (%s): %s", cellName(c), fe.Feature, fe.Effect, fe.Why, second.Effect, second.Why, rule)})
				}
			case hurt(fe.Effect):
				breaches = append(breaches, result.Finding{Kind: "contract", Feature: fe.Feature, Service: c.Target, Cells: []string{cellName(c)},
					Detail: fmt.Sprintf("%s: %s %s (%s): %s", cellName(c), fe.Feature, fe.Effect, fe.Why, rule)})
			}
		}
	}
	return breaches, unjudged
}

// contractCheck is the sweep's verdict on its tier contracts.
func contractCheck(breaches []result.Finding, unjudged []string) check.Result {
	r := check.Result{Check: "tier-contract", Verdict: check.Valid, Summary: "every tier contract held in every cell"}
	switch {
	case len(breaches) > 0:
		var cells []string
		for _, b := range breaches {
			cells = append(cells, b.Cells...)
			r.Examples = append(r.Examples, b.Detail)
		}
		r.Verdict, r.Summary = check.Invalid, fmt.Sprintf("%d breaches, in cells %s", len(breaches), strings.Join(dedupe(cells), ", "))
	case len(unjudged) > 0:
		r.Verdict, r.Summary = check.Unknown, fmt.Sprintf("no breach, but %d cell features under a contract could not be judged", len(unjudged))
		r.Examples = unjudged
	}
	r.Examples = r.Examples[:min(len(r.Examples), 20)]
	return r
}

// notBack lists cells after which the bank was not steady, or its
// deferred work not caught up, within the sweep's limit.
func notBack(cells []result.Cell) []result.Finding {
	var out []result.Finding
	for _, c := range runs(cells) {
		if c.BackError != "" {
			out = append(out, result.Finding{Kind: "not-back", Service: c.Target, Cells: []string{cellName(c)}, Detail: cellName(c) + ": " + c.BackError})
		}
	}
	return out
}

// runs returns every run of the cells: each cell, and its second run
// where it had one.
func runs(cells []result.Cell) []result.Cell {
	var out []result.Cell
	for _, c := range cells {
		out = append(out, c)
		if c.Again != nil {
			out = append(out, *c.Again)
		}
	}
	return out
}

// backCheck fails the sweep when the bank did not come back after a cell:
// not steady, or deferred work stuck. Deferred work still going down when
// the wait ended (Cell.CatchingUp) is slow, not wrong: it makes the check
// unknown, unless another cell failed it.
func backCheck(cells []result.Cell) check.Result {
	r := check.Result{Check: "recovery", Verdict: check.Valid, Summary: "after every cell the bank was steady and its deferred work caught up"}
	worst := result.Cell{}
	for _, c := range cells {
		if c.Skipped == "" && c.Back > worst.Back {
			worst = c
		}
	}
	if worst.Target != "" {
		r.Summary += fmt.Sprintf(" (slowest: %s, %v)", cellName(worst), worst.Back.Round(100*1e6))
	}
	stuck := 0
	for _, c := range runs(cells) {
		if c.BackError != "" && !c.CatchingUp {
			stuck++
		}
	}
	nb := notBack(cells)
	switch {
	case stuck > 0:
		r.Verdict, r.Summary = check.Invalid, fmt.Sprintf("the bank was not back after %d cells", stuck)
	case len(nb) > 0:
		r.Verdict, r.Summary = check.Unknown, fmt.Sprintf("after %d cells the bank's deferred work was still catching up when the wait ended", len(nb))
	}
	for _, f := range nb {
		r.Examples = append(r.Examples, f.Detail)
	}
	return r
}

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
