package reports

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/result"
)

const (
	chartW, chartH = 640.0, 110.0
	padL, padB     = 44.0, 24.0
)

// chart draws one journey's success ratio (line) and p99 latency (bars)
// over the scenario, with each fault as a hatched band and labelled, and
// platform events as ticks.
func chart(sc scenarioView, s series) template.HTML {
	span := float64(sc.End - sc.Start)
	if span <= 0 {
		return ""
	}
	x := func(t time.Duration) float64 { return padL + (chartW-padL-4)*float64(t-sc.Start)/span }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s success and p99 latency">`, chartW, chartH+padB, s.Journey)
	b.WriteString(`<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#c44" stroke-width="2" opacity=".35"/></pattern></defs>`)
	for i, f := range sc.Faults {
		x0, x1 := x(f.Injected), x(max(f.Recovered, f.Injected+Bucket))
		fmt.Fprintf(&b, `<rect class="fault" x="%.1f" y="0" width="%.1f" height="%.0f" fill="url(#hatch)"><title>%s</title></rect>`, x0, max(1, x1-x0), chartH, template.HTMLEscapeString(f.Name))
		// Labels of faults that overlap in time are stacked, not overprinted.
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="flabel">⚡ %s</text>`, x0+2, 10+9*(i%8), template.HTMLEscapeString(trim(f.Name, 40)))
	}
	for _, t := range []time.Duration{0, (sc.End - sc.Start) / 2, sc.End - sc.Start} {
		anchor := map[bool]string{true: "start", false: "end"}[t == 0]
		if t > 0 && t < sc.End-sc.Start {
			anchor = "middle"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" class="axis" text-anchor="%s">%vs</text>`, x(sc.Start+t), chartH+padB-3, anchor, int((t+500*time.Millisecond)/time.Second))
	}
	maxLat := time.Duration(0)
	for _, bk := range s.Buckets {
		maxLat = max(maxLat, bk.P99)
	}
	maxLat = max(maxLat, 10*time.Millisecond)
	bw := (chartW - padL - 4) * float64(Bucket) / span
	for _, bk := range s.Buckets {
		h := (chartH - 14) * float64(bk.P99) / float64(maxLat)
		fmt.Fprintf(&b, `<rect class="lat" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>t=%v p50 %v p99 %v, %d requests</title></rect>`,
			x(bk.At), chartH-h, max(1, bw-1), h, (bk.At - sc.Start).Round(time.Millisecond), bk.P50.Round(time.Microsecond), bk.P99.Round(time.Microsecond), bk.Count)
	}
	maxCount := 1
	for _, bk := range s.Buckets {
		maxCount = max(maxCount, bk.Count)
	}
	var pts, p50s, tput []string
	for _, bk := range s.Buckets {
		cx := x(bk.At) + bw/2
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", cx, 14+(chartH-14)*(1-bk.Success)))
		p50s = append(p50s, fmt.Sprintf("%.1f,%.1f", cx, chartH-(chartH-14)*float64(bk.P50)/float64(maxLat)))
		tput = append(tput, fmt.Sprintf("%.1f,%.1f", cx, chartH-(chartH-14)*0.9*float64(bk.Count)/float64(maxCount)))
	}
	fmt.Fprintf(&b, `<polyline class="tput" points="%s"><title>throughput, up to %d requests per %v</title></polyline>`, strings.Join(tput, " "), maxCount, Bucket)
	fmt.Fprintf(&b, `<polyline class="p50" points="%s"><title>p50 latency</title></polyline>`, strings.Join(p50s, " "))
	fmt.Fprintf(&b, `<polyline class="ok" points="%s"><title>success ratio</title></polyline>`, strings.Join(pts, " "))
	for _, bk := range s.Buckets {
		if bk.Success < 0.99 {
			fmt.Fprintf(&b, `<circle class="dip" cx="%.1f" cy="%.1f" r="2.5"><title>success %.1f%%</title></circle>`, x(bk.At)+bw/2, 14+(chartH-14)*(1-bk.Success), 100*bk.Success)
		}
	}
	for _, e := range sc.Events {
		if e.Kind == "exited" || e.Kind == "ready" || e.Kind == "started" {
			sym := map[string]string{"exited": "✕", "ready": "✓", "started": "↑"}[e.Kind]
			fmt.Fprintf(&b, `<text class="ev ev-%s" x="%.1f" y="%.0f">%s<title>%s %s %s</title></text>`, e.Kind, x(e.At), chartH+padB-9, sym, e.Kind, e.Target, template.HTMLEscapeString(e.Detail))
		}
	}
	fmt.Fprintf(&b, `<text x="2" y="20" class="axis">100%%</text><text x="2" y="%.0f" class="axis">p99≤%v</text>`, chartH, maxLat.Round(time.Millisecond))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

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
