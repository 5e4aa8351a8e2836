package reports

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/system/topology"
)

// sweepView is a blast-radius sweep as the page shows it: its findings
// first, then each feature's measured critical path next to the declared
// one, then the matrix (a row per target and fault, a column per feature
// in tier order).
type sweepView struct {
	Scenario   string
	Verdict    check.Verdict
	Findings   []result.Finding
	Paths      []pathView
	Features   []topology.Feature
	Rows       []sweepRow
	Thresholds check.Thresholds
	Baseline   time.Duration
	Window     time.Duration
	Span       int // columns of a row that was not run
}

type pathView struct {
	result.Path
	Hidden, Unmeasured []string // measured but not declared; declared but not measured
}

type sweepRow struct {
	Target, Kind, Fault string
	Tier                int
	Note                string // skipped, not steady, not back
	Back                time.Duration
	Cells               []sweepCellView
}

type sweepCellView struct {
	Effect   check.Effect
	Symbol   string
	Drop     float64
	P99Delta time.Duration
	Recovery time.Duration
	Why      string
	Missing  bool // the feature had no load in this cell
}

// effectSymbols show an effect as a shape as well as a colour.
var effectSymbols = map[check.Effect]string{check.Unaffected: "○", check.Degraded: "◑", check.Broken: "●", check.NotJudged: "?"}

// sweeps lays out every sweep of the run.
func sweeps(run *result.Run) []sweepView {
	var out []sweepView
	for _, sc := range run.Scenarios {
		if sc.Sweep != nil {
			out = append(out, sweepOf(sc))
		}
	}
	return out
}

func sweepOf(sc result.Scenario) sweepView {
	sw := sc.Sweep
	v := sweepView{Scenario: sc.Name, Verdict: sc.Verdict, Findings: sw.Findings, Features: topology.Features,
		Thresholds: sw.Thresholds, Baseline: sw.Baseline, Window: sw.Window, Span: len(topology.Features) + 1}
	swept := map[string]bool{} // targets with a judged cell: only they can be missing from a path
	for _, c := range sw.Cells {
		if c.Skipped == "" && c.Unsteady == "" {
			swept[c.Target] = true
		}
	}
	for _, p := range sw.Paths {
		pv := pathView{Path: p}
		for _, s := range p.Measured {
			if !slices.Contains(p.Declared, s) {
				pv.Hidden = append(pv.Hidden, s)
			}
		}
		for _, s := range p.Declared {
			if swept[s] && !slices.Contains(p.Measured, s) {
				pv.Unmeasured = append(pv.Unmeasured, s)
			}
		}
		v.Paths = append(v.Paths, pv)
	}
	for _, c := range sw.Cells {
		row := sweepRow{Target: c.Target, Kind: c.Kind, Fault: c.Fault.Name, Back: c.Back, Tier: tierOf(c.Target)}
		var notes []string
		for _, n := range []struct{ prefix, text string }{{"not run: ", c.Skipped}, {"not judged: ", c.Unsteady},
			{"fault: ", c.Fault.Error}, {"no effect: ", c.Fault.NoEffect}, {"not back: ", c.BackError}} {
			if n.text != "" {
				notes = append(notes, n.prefix+n.text)
			}
		}
		if c.CatchingUp {
			notes = append(notes, "deferred work still catching up when the wait ended")
		}
		if a := c.Again; a != nil {
			var hurt []string
			for _, fe := range a.Features {
				if fe.Effect == check.Degraded || fe.Effect == check.Broken {
					hurt = append(hurt, fe.Feature+" "+string(fe.Effect))
				}
			}
			if len(hurt) == 0 {
				hurt = []string{"no feature hurt"}
			}
			notes = append(notes, "run again after a contract breach: "+strings.Join(hurt, ", "))
		}
		row.Note = strings.Join(notes, "; ")
		if c.Skipped == "" {
			for _, f := range topology.Features {
				cv := sweepCellView{Effect: check.NotJudged, Symbol: "–", Recovery: -1, Missing: true}
				for _, fe := range c.Features {
					if fe.Feature == f.Name {
						cv = sweepCellView{Effect: fe.Effect, Symbol: effectSymbols[fe.Effect], Drop: fe.Drop, P99Delta: fe.P99Delta, Recovery: fe.Recovery, Why: fe.Why}
					}
				}
				if c.Unsteady != "" {
					cv.Effect, cv.Symbol = check.NotJudged, "?"
				}
				row.Cells = append(row.Cells, cv)
			}
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

func tierOf(target string) int {
	if s, ok := topology.Lookup(target); ok {
		return s.Tier
	}
	return 0 // a store node
}

// deltaMs shows a p99 change in whole milliseconds, signed.
func deltaMs(d time.Duration) string { return fmt.Sprintf("%+d ms", d.Milliseconds()) }

// sweepTmpl draws a sweepView.
const sweepTmpl = `{{define "sweep"}}<h2 id="sweep-{{.Scenario}}">Blast-radius sweep <a href="#{{.Scenario}}">{{.Scenario}}</a> — <span class="badge {{.Verdict}}">{{.Verdict}}</span></h2>
{{if .Findings}}<p><b>Findings</b></p><ul>{{range .Findings}}<li class="{{if eq .Kind "contract" "not-back"}}invalid{{else}}unknown{{end}}"><b>{{.Kind}}</b>: {{.Detail}}</li>{{end}}</ul>{{else}}<p class="valid">No findings: every tier contract held, and every feature's measured critical path is the declared one.</p>{{end}}
<p><b>Critical paths</b>: the services whose faults degraded or broke each feature, next to the path the mesh description declares (+ hurt it but not declared; − declared, swept, never hurt it).</p>
<table><tr><th>feature</th><th>tier</th><th>declared</th><th>measured</th><th>differences</th></tr>
{{range .Paths}}<tr><td>{{.Feature}}</td><td>{{.Tier}}</td><td>{{range .Declared}}{{.}} {{end}}</td><td>{{range .Measured}}{{.}} {{end}}</td>
<td>{{range .Hidden}}<span class="invalid">+{{.}}</span> {{end}}{{range .Unmeasured}}<span class="unknown">−{{.}}</span> {{end}}</td></tr>{{end}}</table>
<p><small>Each fault on for {{dur .Window}} after {{dur .Baseline}} of steady state, its reference. ○ unaffected, ◑ degraded (success fell more than {{printf "%.0f" (hundred .Thresholds.DegradedDrop)}} points, or p99 over ×{{.Thresholds.SlowFactor}} and +{{dur .Thresholds.SlowMargin}}, beyond chance), ● broken (degraded, and under {{printf "%.0f" (hundred .Thresholds.BrokenSuccess)}}% success or p99 over {{dur .Thresholds.BrokenP99}}), ? not judged (under {{.Thresholds.MinOps}} requests, or the bank not steady before). In each cell: success change, p99 change, recovery time.</small></p>
<table class="blast"><tr><th>target</th><th>fault</th>{{range .Features}}<th title="{{.Desc}}">{{.Name}}<br><small>tier {{.Tier}}</small></th>{{end}}<th>back in</th></tr>
{{range .Rows}}<tr><td>{{.Target}}<br><small>tier {{.Tier}}</small></td><td title="{{.Fault}}">{{.Kind}}{{if .Note}}<br><small>{{.Note}}</small>{{end}}</td>
{{if .Cells}}{{range .Cells}}{{if .Missing}}<td class="b-none">–</td>{{else}}<td class="{{if eq .Effect "broken"}}b3{{else if eq .Effect "degraded"}}b2{{else if eq .Effect "unaffected"}}b0{{else}}b-none{{end}}" title="{{.Why}}">{{.Symbol}} {{signed .Drop}}<br><small>{{deltams .P99Delta}} · {{if lt .Recovery 0}}not back{{else}}{{dur .Recovery}}{{end}}</small></td>{{end}}{{end}}<td>{{dur .Back}}</td>
{{else}}<td colspan="{{$.Span}}" class="b-none">–</td>{{end}}</tr>{{end}}</table>{{end}}`
