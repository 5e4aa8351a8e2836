// Package reports renders a run's HTML resilience report from its saved data
// only (results.json, ops.jsonl, events.jsonl in the run folder), so any old
// run can be rendered again. The page is one self-contained file: inline CSS
// and SVG, no script, no network.
//
// It never reads live state and never judges: verdicts come from results.json.
package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/result"
)

// Bucket is the width of a chart's time window.
const Bucket = 500 * time.Millisecond

// WriteDir renders dir/index.html and dir/junit.xml from the run saved in
// dir, and the trend page of the folder that holds dir. It refuses a
// results.json that does not match results.schema.json (a *SchemaError).
func WriteDir(dir string) error {
	run, err := ReadResults(dir)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	ops, events, err := history.Load(dir)
	if err != nil {
		return fmt.Errorf("read history: %w", err)
	}
	page := build(run, ops, events, dir)
	f, err := os.Create(filepath.Join(dir, "index.html"))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tmpl.Execute(f, page); err != nil {
		return err
	}
	if err := WriteJUnit(dir, run); err != nil {
		return err
	}
	return WriteTrend(filepath.Dir(dir))
}

// series is one journey's aggregated timeline in one scenario.
type series struct {
	Journey string
	Buckets []bucket
}

type bucket struct {
	At      time.Duration
	Count   int
	OK      int
	Lats    []time.Duration
	P50     time.Duration
	P99     time.Duration
	Success float64
}

type scenarioView struct {
	result.Scenario
	Index  int // position in the run, for ids unique in the page
	Series []series
	Events []history.Event
	Logs   []string
}

type pageView struct {
	Run       *result.Run
	Scenarios []scenarioView
	Passed    int
}

func build(run *result.Run, ops []history.Op, events []history.Event, dir string) pageView {
	p := pageView{Run: run}
	byScenario := map[string][]history.Op{}
	for _, o := range ops {
		byScenario[o.Scenario] = append(byScenario[o.Scenario], o)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	for i := range logs {
		logs[i], _ = filepath.Rel(dir, logs[i])
	}
	for i, sc := range run.Scenarios {
		v := scenarioView{Scenario: sc, Index: i, Series: aggregate(byScenario[sc.Name], sc.Start, sc.End), Logs: logs}
		for _, e := range events {
			if e.Scenario == sc.Name {
				v.Events = append(v.Events, e)
			}
		}
		if sc.Verdict == "valid" {
			p.Passed++
		}
		p.Scenarios = append(p.Scenarios, v)
	}
	return p
}

// aggregate folds ops into Bucket-wide windows per journey, so the page's
// size depends on the run's length, not its request count.
func aggregate(ops []history.Op, start, end time.Duration) []series {
	by := map[string]map[int]*bucket{}
	for _, o := range ops {
		m := by[o.Journey]
		if m == nil {
			m = map[int]*bucket{}
			by[o.Journey] = m
		}
		i := int((o.Start - start) / Bucket)
		b := m[i]
		if b == nil {
			b = &bucket{At: start + time.Duration(i)*Bucket}
			m[i] = b
		}
		b.Count++
		if o.Outcome == history.OK {
			b.OK++
		}
		b.Lats = append(b.Lats, o.Latency)
	}
	var out []series
	for j, m := range by {
		s := series{Journey: j}
		for _, b := range m {
			slices.Sort(b.Lats)
			b.P50, b.P99 = check.Quantile(b.Lats, 0.50), check.Quantile(b.Lats, 0.99)
			b.Success = float64(b.OK) / float64(b.Count)
			b.Lats = nil
			s.Buckets = append(s.Buckets, *b)
		}
		sort.Slice(s.Buckets, func(x, y int) bool { return s.Buckets[x].At < s.Buckets[y].At })
		out = append(out, s)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Journey < out[b].Journey })
	return out
}
