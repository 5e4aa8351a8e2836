package reports

import (
	"fmt"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/result"
)

const (
	chartW, chartH = 640.0, 110.0
	padL, padB     = 44.0, 24.0
)

// chartView is one journey's chart, laid out: every number is a position
// in the SVG's coordinates and every string is data for the template to
// escape.
type chartView struct {
	Journey string
	Hatch   string // the fault bands' pattern id, unique in the page
	W, H    float64
	Faults  []faultBand
	Axis    []axisLabel
	Bars    []chartMark
	Tput    string // polyline points
	P50     string
	OK      string
	Dips    []chartMark
	Events  []eventMark
	// MaxCount is the throughput line's top, requests per Bucket.
	MaxCount int
	Bucket   time.Duration
	MaxLat   time.Duration
	LatY     float64
}

type faultBand struct {
	X, W, H, LabelY float64
	Name, Label     string
}

type axisLabel struct {
	X, Y   float64
	Anchor string
	Secs   int
}

type chartMark struct {
	X, Y, W, H float64
	Title      string
}

type eventMark struct {
	X, Y             float64
	Kind, Sym, Title string
}

// chart lays out one journey's success ratio (line) and p99 latency (bars)
// over the scenario, with each fault as a hatched band and labelled, and
// platform events as ticks; the "chart" template draws it. n numbers the
// chart within the scenario so that its ids are unique in the page. It
// returns nil when the scenario has no length.
func chart(sc scenarioView, n int, s series) *chartView {
	span := float64(sc.End - sc.Start)
	if span <= 0 {
		return nil
	}
	x := func(t time.Duration) float64 { return padL + (chartW-padL-4)*float64(t-sc.Start)/span }
	v := &chartView{Journey: s.Journey, Hatch: fmt.Sprintf("hatch-%d-%d", sc.Index, n), W: chartW, H: chartH + padB, Bucket: Bucket, LatY: chartH}
	for i, f := range sc.Faults {
		x0, x1 := x(f.Injected), x(max(f.Recovered, f.Injected+Bucket))
		// Labels of faults that overlap in time are stacked, not overprinted.
		v.Faults = append(v.Faults, faultBand{X: x0, W: max(1, x1-x0), H: chartH, LabelY: float64(10 + 9*(i%8)), Name: f.Name, Label: trim(f.Name, 40)})
	}
	for _, t := range []time.Duration{0, (sc.End - sc.Start) / 2, sc.End - sc.Start} {
		anchor := map[bool]string{true: "start", false: "end"}[t == 0]
		if t > 0 && t < sc.End-sc.Start {
			anchor = "middle"
		}
		v.Axis = append(v.Axis, axisLabel{X: x(sc.Start + t), Y: chartH + padB - 3, Anchor: anchor, Secs: int((t + 500*time.Millisecond) / time.Second)})
	}
	for _, bk := range s.Buckets {
		v.MaxLat = max(v.MaxLat, bk.P99)
	}
	v.MaxLat = max(v.MaxLat, 10*time.Millisecond)
	v.MaxCount = 1
	for _, bk := range s.Buckets {
		v.MaxCount = max(v.MaxCount, bk.Count)
	}
	bw := (chartW - padL - 4) * float64(Bucket) / span
	var pts, p50s, tput []string
	for _, bk := range s.Buckets {
		h := (chartH - 14) * float64(bk.P99) / float64(v.MaxLat)
		v.Bars = append(v.Bars, chartMark{X: x(bk.At), Y: chartH - h, W: max(1, bw-1), H: h,
			Title: fmt.Sprintf("t=%v p50 %v p99 %v, %d requests", (bk.At - sc.Start).Round(time.Millisecond), bk.P50.Round(time.Microsecond), bk.P99.Round(time.Microsecond), bk.Count)})
		cx, cy := x(bk.At)+bw/2, 14+(chartH-14)*(1-bk.Success)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", cx, cy))
		p50s = append(p50s, fmt.Sprintf("%.1f,%.1f", cx, chartH-(chartH-14)*float64(bk.P50)/float64(v.MaxLat)))
		tput = append(tput, fmt.Sprintf("%.1f,%.1f", cx, chartH-(chartH-14)*0.9*float64(bk.Count)/float64(v.MaxCount)))
		if bk.Success < 0.99 {
			v.Dips = append(v.Dips, chartMark{X: cx, Y: cy, Title: fmt.Sprintf("success %.1f%%", 100*bk.Success)})
		}
	}
	v.Tput, v.P50, v.OK = strings.Join(tput, " "), strings.Join(p50s, " "), strings.Join(pts, " ")
	for _, e := range sc.Events {
		if sym, ok := eventSymbols[e.Kind]; ok {
			v.Events = append(v.Events, eventMark{X: x(e.At), Y: chartH + padB - 9, Kind: e.Kind, Sym: sym, Title: e.Kind + " " + e.Target + " " + e.Detail})
		}
	}
	return v
}

// eventSymbols are the platform events a chart marks.
var eventSymbols = map[string]string{"exited": "✕", "ready": "✓", "started": "↑"}

// chartTmpl draws a chartView. html/template escapes every string in SVG
// text and attributes as it does in HTML.
const chartTmpl = `{{define "chart"}}<svg class="chart" viewBox="0 0 {{f0 .W}} {{f0 .H}}" role="img" aria-label="{{.Journey}} success and p99 latency">` +
	`<defs><pattern id="{{.Hatch}}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#c44" stroke-width="2" opacity=".35"/></pattern></defs>` +
	`{{$hatch := .Hatch}}{{range .Faults}}<rect class="fault" x="{{f1 .X}}" y="0" width="{{f1 .W}}" height="{{f0 .H}}" fill="url(#{{$hatch}})"><title>{{.Name}}</title></rect>` +
	`<text x="{{f1 (add .X 2)}}" y="{{f0 .LabelY}}" class="flabel">⚡ {{.Label}}</text>{{end}}` +
	`{{range .Axis}}<text x="{{f1 .X}}" y="{{f0 .Y}}" class="axis" text-anchor="{{.Anchor}}">{{.Secs}}s</text>{{end}}` +
	`{{range .Bars}}<rect class="lat" x="{{f1 .X}}" y="{{f1 .Y}}" width="{{f1 .W}}" height="{{f1 .H}}"><title>{{.Title}}</title></rect>{{end}}` +
	`<polyline class="tput" points="{{.Tput}}"><title>throughput, up to {{.MaxCount}} requests per {{.Bucket}}</title></polyline>` +
	`<polyline class="p50" points="{{.P50}}"><title>p50 latency</title></polyline>` +
	`<polyline class="ok" points="{{.OK}}"><title>success ratio</title></polyline>` +
	`{{range .Dips}}<circle class="dip" cx="{{f1 .X}}" cy="{{f1 .Y}}" r="2.5"><title>{{.Title}}</title></circle>{{end}}` +
	`{{range .Events}}<text class="ev ev-{{.Kind}}" x="{{f1 .X}}" y="{{f0 .Y}}">{{.Sym}}<title>{{.Title}}</title></text>{{end}}` +
	`<text x="2" y="20" class="axis">100%</text><text x="2" y="{{f0 .LatY}}" class="axis">p99≤{{ms .MaxLat}}</text></svg>{{end}}`

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func f0(f float64) string { return fmt.Sprintf("%.0f", f) }

func f1(f float64) string { return fmt.Sprintf("%.1f", f) }

func add(a, b float64) float64 { return a + b }

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

func pct(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

func dur(d time.Duration) string {
	if d < 0 {
		return "not recovered"
	}
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func worst(sc result.Scenario) string {
	w, ws := "", 2.0
	for _, s := range sc.Stats {
		if s.Window == "during" && s.Count > 0 && s.Success < ws {
			w, ws = s.Journey, s.Success
		}
	}
	if w == "" {
		return "-"
	}
	return fmt.Sprintf("%s (%s)", w, pct(ws))
}

func maxRecovery(sc result.Scenario) string {
	m := time.Duration(0)
	for _, d := range sc.Recovery {
		if d < 0 {
			return "not recovered"
		}
		m = max(m, d)
	}
	return dur(m)
}
