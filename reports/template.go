package reports

import "html/template"

// CSP is the Content-Security-Policy of every page: inline styles and
// inline SVG only; no script, no fetch, no form, no base URL.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'none'; base-uri 'none'; form-action 'none'"

// funcs are the helpers every page's template may call.
var funcs = template.FuncMap{
	"chart": chart, "blast": blastMatrix, "pct": pct, "dur": dur, "worst": worst, "maxrec": maxRecovery,
	"f0": f0, "f1": f1, "add": add, "ms": ms, "hundred": hundred, "signed": signed,
	"sweeps": sweeps, "deltams": deltaMs,
}

// page parses a page's template with the chart and blast templates.
func page(name, text string) *template.Template {
	t := template.Must(template.New(name).Funcs(funcs).Parse(text))
	template.Must(t.Parse(chartTmpl))
	template.Must(t.Parse(sweepTmpl))
	return template.Must(t.Parse(blastTmpl))
}

// The policy is part of the template's text, so no data can change it.
var tmpl = page("report", `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Faultline run {{.Run.ID}}: {{.Run.Verdict}}</title>
<meta http-equiv="Content-Security-Policy" content="`+CSP+`">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:16px;color:#1b1b1b}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 6px;border-top:1px solid #ccc;padding-top:14px}
table{border-collapse:collapse;margin:8px 0;width:100%} th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3} .valid{color:#116611} .invalid{color:#b00000;font-weight:bold} .unknown{color:#8a5a00}
.badge{display:inline-block;padding:1px 6px;border-radius:3px;border:1px solid currentColor}
.chart{width:100%;max-width:660px;height:auto;background:#fafafa;border:1px solid #e4e4e4}
.chart .lat{fill:#a9c6e8} .chart .p50{fill:none;stroke:#1f4e8c;stroke-width:1} .chart .tput{fill:none;stroke:#888;stroke-width:1;stroke-dasharray:3 2} .chart .ok{fill:none;stroke:#222;stroke-width:1.5} .chart .dip{fill:#b00000}
.chart .flabel{font-size:9px;fill:#800} .chart .axis{font-size:9px;fill:#555} .chart .ev{font-size:10px}
.ev-exited{fill:#b00000} .ev-ready{fill:#116611} pre{white-space:pre-wrap;background:#f7f7f7;padding:8px;border:1px solid #e4e4e4}
.blast td{text-align:center;font-size:12px} .b0{background:#eef6ee} .b1{background:#fff5d6} .b2{background:#ffd9b3} .b3{background:#f4a3a3;font-weight:bold} .b-none{color:#999}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:8px} small{color:#555}
@media print{.chart{max-width:100%} h2{page-break-before:always}}
</style></head><body>
<h1>Faultline run <code>{{.Run.ID}}</code> — <span class="badge {{.Run.Verdict}}">{{.Run.Verdict}}</span></h1>
<p>{{.Passed}} of {{len .Scenarios}} scenarios passed · platform <b>{{.Run.Platform}}</b> · duration {{dur .Run.Duration}} ·
seed {{.Run.Seed}} · scale {{.Run.Scale}} · rate ×{{.Run.Rate}} · {{.Run.Customers}} customers · {{.Run.Ops}} requests ·
bank up in {{.Run.StartupMs}} ms · {{range $k, $v := .Run.Versions}}{{$k}} {{$v}} {{end}}</p>
<table><tr><th>scenario</th><th>verdict</th><th>faults</th><th>worst journey during faults</th><th>slowest recovery</th></tr>
{{range .Scenarios}}<tr><td><a href="#{{.Name}}">{{.Name}}</a></td><td class="{{.Verdict}}">{{.Verdict}}</td>
<td>{{if .Sweep}}{{len .Faults}} faults, one at a time: <a href="#sweep-{{.Name}}">the sweep's matrix</a>{{else}}{{range .Faults}}{{.Name}}<br>{{end}}{{end}}</td>{{if .Sweep}}<td colspan="2"><small>see the matrix</small></td>{{else}}<td>{{worst .Scenario}}</td><td>{{maxrec .Scenario}}</td>{{end}}</tr>{{end}}
</table>
{{range sweeps .Run}}{{template "sweep" .}}{{end}}
<h2>Blast radius</h2>
<p><small>Each cell: the feature's success ratio change and p99 growth while the scenario's faults were on, against its steady state. ○ untouched, ◔ slight, ◑ clear, ● severe; tiers left to right, most important first.</small></p>
{{template "blast" (blast .Run)}}
<p><small><a href="../trend.html">Trend across runs</a> · <a href="results.json">results.json</a> · <a href="junit.xml">junit.xml</a></small></p>
<p><small>Charts, per {{"500ms"}} window: solid black line = success ratio (dots mark windows under 99%); bars = p99 latency, blue line = p50 latency (same scale); dashed grey line = throughput; hatched band ⚡ = fault injected until recovered; ✕ instance exited, ↑ started, ✓ ready.</small></p>
{{range .Scenarios}}
<h2 id="{{.Name}}">{{.Name}} — <span class="badge {{.Verdict}}">{{.Verdict}}</span></h2>
<pre>{{.Runbook}}</pre>
{{if .Aborted}}<p class="unknown">Abort guard: every fault was recovered early: {{.Aborted}}</p>{{end}}
{{if .Settle}}<p><small>Before the steady window: the bank was {{.Settle}}.</small></p>{{end}}
{{if .Failures}}<ul class="invalid">{{range .Failures}}<li>{{.}}</li>{{end}}</ul>{{end}}
<table><tr><th>fault</th><th>injected</th><th>recovered</th><th>evidence</th></tr>
{{range .Faults}}<tr><td>{{.Name}}</td><td>{{dur .Injected}}</td><td>{{dur .Recovered}}</td><td>{{.Evidence}}{{if .Error}} <span class="invalid">{{.Error}}</span>{{end}}</td></tr>{{end}}</table>
{{if .Sweep}}<p><small>The sweep's cells are in <a href="#sweep-{{.Name}}">its matrix</a> above; its timeline is too long to chart here.</small></p>{{else}}<div class="grid">{{$sc := .}}{{range $i, $s := .Series}}<div><b>{{.Journey}}</b> <small>recovery {{index $sc.Recovery .Journey | dur}}</small><br>{{with chart $sc $i $s}}{{template "chart" .}}{{end}}</div>{{end}}</div>{{end}}
<table><tr><th>journey</th><th>window</th><th>requests</th><th>success</th><th>p50</th><th>p95</th><th>p99</th></tr>
{{range .Stats}}<tr><td>{{.Journey}}</td><td>{{.Window}}</td><td>{{.Count}}</td><td>{{pct .Success}}</td><td>{{dur .P50}}</td><td>{{dur .P95}}</td><td>{{dur .P99}}</td></tr>{{end}}</table>
<table><tr><th>check</th><th>journey</th><th>window</th><th>verdict</th><th>summary</th></tr>
{{range .Checks}}{{if ne .Verdict "valid"}}<tr><td>{{.Check}}</td><td>{{.Journey}}</td><td>{{.Window}}</td><td class="{{.Verdict}}">{{.Verdict}}</td><td>{{.Summary}}{{range .Examples}}<br><small>{{.}}</small>{{end}}</td></tr>{{end}}{{end}}
{{range .Checks}}{{if eq .Check "money" "exercise" "answers" "leftovers" "abort-guard"}}{{if eq .Verdict "valid"}}<tr><td>{{.Check}}</td><td></td><td></td><td class="valid">valid</td><td>{{.Summary}}</td></tr>{{end}}{{end}}{{end}}
</table>
<details><summary>instance logs</summary>{{range .Logs}}<a href="{{.}}">{{.}}</a> {{end}}</details>
{{end}}
</body></html>
`)
