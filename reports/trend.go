package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/result"
)

// TrendRuns is how many of the newest runs the trend page shows.
const TrendRuns = 20

// WriteTrend writes runsDir/trend.html from the results.json of the newest
// TrendRuns run folders in runsDir: per scenario and journey, the success
// ratio while the faults were on and the recovery time, run by run. A
// results.json that cannot be read or does not match results.schema.json
// is left out, and the page says which and why.
func WriteTrend(runsDir string) error {
	dirs, err := filepath.Glob(filepath.Join(runsDir, "*", "results.json"))
	if err != nil {
		return err
	}
	sort.Strings(dirs) // run IDs start with their UTC time
	if len(dirs) > TrendRuns {
		dirs = dirs[len(dirs)-TrendRuns:]
	}
	var runs []*result.Run
	var skipped []string
	for _, f := range dirs {
		r, err := ReadResults(filepath.Dir(f))
		if err != nil {
			// A run being written, or from an older schema.
			skipped = append(skipped, err.Error())
			continue
		}
		runs = append(runs, r)
	}
	f, err := os.Create(filepath.Join(runsDir, "trend.html"))
	if err != nil {
		return err
	}
	defer f.Close()
	p := trendView(runs)
	p.Skipped = skipped
	return trendTmpl.Execute(f, p)
}

type trendRow struct {
	Scenario, Journey string
	Cells             []trendCell
	Spark             string // the sparkline's polyline points
}

type trendCell struct {
	Present  bool
	Success  float64
	Recovery time.Duration
	Verdict  string
}

type trendPage struct {
	Runs    []*result.Run
	Rows    []trendRow
	Skipped []string // why each left-out run could not be read
}

func trendView(runs []*result.Run) trendPage {
	type key struct{ s, j string }
	cells := map[key][]trendCell{}
	var keys []key
	for i, r := range runs {
		for _, sc := range r.Scenarios {
			for _, st := range sc.Stats {
				if st.Window != "during" {
					continue
				}
				k := key{sc.Name, st.Journey}
				if _, ok := cells[k]; !ok {
					cells[k] = make([]trendCell, len(runs))
					keys = append(keys, k)
				}
				cells[k][i] = trendCell{Present: true, Success: st.Success, Recovery: sc.Recovery[st.Journey], Verdict: string(sc.Verdict)}
			}
		}
	}
	sort.Slice(keys, func(a, b int) bool {
		if keys[a].s != keys[b].s {
			return keys[a].s < keys[b].s
		}
		return keys[a].j < keys[b].j
	})
	p := trendPage{Runs: runs}
	for _, k := range keys {
		p.Rows = append(p.Rows, trendRow{Scenario: k.s, Journey: k.j, Cells: cells[k], Spark: spark(cells[k])})
	}
	return p
}

// Sparkline size.
const sparkW, sparkH = 120.0, 24.0

// spark lays out the success ratio across runs as a small line's points.
func spark(cs []trendCell) string {
	const w, h = sparkW, sparkH
	var pts []string
	for i, c := range cs {
		if !c.Present {
			continue
		}
		x := w * float64(i) / float64(max(1, len(cs)-1))
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, 2+(h-4)*(1-c.Success)))
	}
	return strings.Join(pts, " ")
}

var trendTmpl = page("trend", `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Faultline trend</title>
<meta http-equiv="Content-Security-Policy" content="`+CSP+`">
<style>body{font:13px/1.4 system-ui,sans-serif;margin:16px} table{border-collapse:collapse} th,td{border:1px solid #ddd;padding:2px 5px;text-align:right}
td.l,th.l{text-align:left} .invalid{color:#b00000;font-weight:bold} .unknown{color:#8a5a00}</style></head><body>
<h1>Faultline trend: last {{len .Runs}} runs</h1>
<p>Each cell: success ratio while the faults were on, and recovery time. ✕ marks a run whose scenario failed, ? one whose verdict was unknown.</p>
<table><tr><th class="l">scenario</th><th class="l">journey</th><th>trend</th>{{range .Runs}}<th><a href="{{.ID}}/index.html">{{.ID}}</a></th>{{end}}</tr>
{{range .Rows}}<tr><td class="l">{{.Scenario}}</td><td class="l">{{.Journey}}</td><td><svg width="`+f0(sparkW)+`" height="`+f0(sparkH)+`" role="img" aria-label="success across runs"><polyline fill="none" stroke="#222" stroke-width="1.5" points="{{.Spark}}"/></svg></td>
{{range .Cells}}<td class="{{.Verdict}}">{{if .Present}}{{if eq .Verdict "invalid"}}✕ {{else if eq .Verdict "unknown"}}? {{end}}{{pct .Success}}<br><small>{{dur .Recovery}}</small>{{else}}–{{end}}</td>{{end}}</tr>{{end}}
</table>
{{if .Skipped}}<p>Left out:</p><ul>{{range .Skipped}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`)
