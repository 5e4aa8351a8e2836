package reports

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/faultline/faultline/harness/result"
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

// blastMatrix renders the matrix: a row per scenario (its faults), a column
// per feature in tier order.
func blastMatrix(run *result.Run) template.HTML {
	var b strings.Builder
	b.WriteString(`<table class="blast"><tr><th>faults (scenario)</th>`)
	for _, f := range topology.Features {
		fmt.Fprintf(&b, `<th title="%s">%s<br><small>tier %d</small></th>`, template.HTMLEscapeString(f.Desc), f.Name, f.Tier)
	}
	b.WriteString(`</tr>`)
	symbols := []string{"○", "◔", "◑", "●"}
	for _, sc := range run.Scenarios {
		var names []string
		for _, f := range sc.Faults {
			names = append(names, f.Name)
		}
		fmt.Fprintf(&b, `<tr><td><a href="#%s">%s</a><br><small>%s</small></td>`, sc.Name, template.HTMLEscapeString(strings.Join(dedupe(names), "; ")), sc.Name)
		for _, f := range topology.Features {
			c := cell(sc, f.Name)
			lv := c.level()
			if lv < 0 {
				b.WriteString(`<td class="b-none">–</td>`)
				continue
			}
			fmt.Fprintf(&b, `<td class="b%d" title="success -%.2f points, p99 x%.1f">%s %s<br><small>x%.1f</small></td>`, lv, 100*c.Drop, c.P99x, symbols[lv], signedPct(-c.Drop), c.P99x)
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</table>`)
	return template.HTML(b.String())
}

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

func signedPct(f float64) string {
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
