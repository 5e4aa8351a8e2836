package reports

import (
	"fmt"
	"strings"

	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/system/topology"
)

// blastCell is one fault x feature cell: how much the feature's success
// ratio fell and its p99 grew while the fault was on, against steady state.
type blastCell struct {
	Drop   float64 // steady success - during success, in points
	P99x   float64 // during p99 / steady p99
	Absent bool
}

// level grades a cell 0 (untouched) to 3 (badly hurt); the page shows the
// grade as a symbol and a number as well as a colour.
func (c blastCell) level() int {
	switch {
	case c.Absent:
		return -1
	case c.Drop >= 0.10 || c.P99x >= 10:
		return 3
	case c.Drop >= 0.02 || c.P99x >= 4:
		return 2
	case c.Drop >= 0.005 || c.P99x >= 2:
		return 1
	}
	return 0
}

// blastView is the matrix: a row per scenario (its faults), a column per
// feature in tier order.
type blastView struct {
	Features []topology.Feature
	Rows     []blastRow
}

type blastRow struct {
	Scenario, Faults string
	Cells            []blastCellView
}

type blastCellView struct {
	Level      int // -1 when the feature had no load in a window
	Symbol     string
	Drop, P99x float64
}

// blastMatrix lays out the matrix; the "blast" template draws it.
func blastMatrix(run *result.Run) blastView {
	v := blastView{Features: topology.Features}
	symbols := []string{"○", "◔", "◑", "●"}
	for _, sc := range run.Scenarios {
		if sc.Sweep != nil {
			continue // the sweep has a matrix of its own
		}
		var names []string
		for _, f := range sc.Faults {
			names = append(names, f.Name)
		}
		row := blastRow{Scenario: sc.Name, Faults: strings.Join(dedupe(names), "; ")}
		for _, f := range topology.Features {
			c := cell(sc, f.Name)
			cv := blastCellView{Level: c.level(), Drop: c.Drop, P99x: c.P99x}
			if cv.Level >= 0 {
				cv.Symbol = symbols[cv.Level]
			}
			row.Cells = append(row.Cells, cv)
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// blastTmpl draws a blastView.
const blastTmpl = `{{define "blast"}}<table class="blast"><tr><th>faults (scenario)</th>` +
	`{{range .Features}}<th title="{{.Desc}}">{{.Name}}<br><small>tier {{.Tier}}</small></th>{{end}}</tr>` +
	`{{range .Rows}}<tr><td><a href="#{{.Scenario}}">{{.Faults}}</a><br><small>{{.Scenario}}</small></td>` +
	`{{range .Cells}}{{if lt .Level 0}}<td class="b-none">–</td>{{else}}` +
	`<td class="b{{.Level}}" title="success -{{printf "%.2f" (hundred .Drop)}} points, p99 x{{printf "%.1f" .P99x}}">{{.Symbol}} {{signed .Drop}}<br><small>x{{printf "%.1f" .P99x}}</small></td>` +
	`{{end}}{{end}}</tr>{{end}}</table>{{end}}`

func cell(sc result.Scenario, journey string) blastCell {
	var steady, during *struct {
		s float64
		p float64
	}
	for _, st := range sc.Stats {
		if st.Journey != journey || st.Count == 0 {
			continue
		}
		v := &struct{ s, p float64 }{st.Success, float64(st.P99)}
		switch st.Window {
		case "steady":
			steady = v
		case "during":
			during = v
		}
	}
	if steady == nil || during == nil {
		return blastCell{Absent: true}
	}
	c := blastCell{Drop: max(0, steady.s-during.s), P99x: 1}
	if steady.p > 0 {
		c.P99x = during.p / steady.p
	}
	return c
}

func hundred(f float64) float64 { return 100 * f }

// signed shows a drop in success as a signed percentage.
func signed(drop float64) string {
	f := -drop
	if f > -0.00005 {
		return "±0%"
	}
	return fmt.Sprintf("%.1f%%", 100*f)
}

func dedupe(in []string) []string {
	seen := map[string]int{}
	var out []string
	for _, s := range in {
		if seen[s] == 0 {
			out = append(out, s)
		}
		seen[s]++
	}
	for i, s := range out {
		if n := seen[s]; n > 1 {
			out[i] = fmt.Sprintf("%s ×%d", s, n)
		}
	}
	return out
}
