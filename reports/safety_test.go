package reports_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/reports"
)

// hostile are strings that break out of HTML text, attributes and SVG when
// written unescaped.
var hostile = []string{`<img src=x onerror=alert(1)>`, `"><script>alert(1)</script>`, `</svg><script>`}

// writeRun saves run with ops and events in a new run folder under a runs
// folder and returns the run folder.
func writeRun(t *testing.T, run *result.Run, ops []history.Op, events []history.Event) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "runs", run.ID)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, run.Save(dir))
	for name, lines := range map[string][]any{"ops.jsonl": anys(ops), "events.jsonl": anys(events)} {
		f, err := os.Create(filepath.Join(dir, name))
		require.NoError(t, err)
		w := bufio.NewWriter(f)
		for _, l := range lines {
			b, err := json.Marshal(l)
			require.NoError(t, err)
			_, _ = w.Write(append(b, '\n'))
		}
		require.NoError(t, w.Flush())
		require.NoError(t, f.Close())
	}
	return dir
}

func anys[T any](in []T) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}

// syntheticRun builds a run of the given scenarios, each with two faults,
// checks and statistics for every journey, and ops and events for its charts.
func syntheticRun(names, journeys []string, text string) (*result.Run, []history.Op, []history.Event) {
	run := &result.Run{ID: "20261201-120000-abcd", Platform: "local", Started: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		Duration: time.Minute, Seed: 1, Verdict: check.Invalid, Versions: map[string]string{"go": text}}
	var ops []history.Op
	var events []history.Event
	for i, name := range names {
		start := time.Duration(i) * 20 * time.Second
		sc := result.Scenario{Name: name, Runbook: "Expect: " + text, Verdict: check.Invalid, Start: start, End: start + 10*time.Second,
			Windows:  map[string][2]time.Duration{"steady": {start, start + 2*time.Second}},
			Failures: []string{"slo check failed: " + text},
			Faults: []result.Fault{
				{Name: "kill " + text, ID: "f1", Injected: start + 2*time.Second, Recovered: start + 5*time.Second, Evidence: "evidence " + text, Error: "error " + text},
				{Name: "pause " + text, ID: "f2", Injected: start + 3*time.Second, Recovered: start + 6*time.Second},
			},
			Recovery: map[string]time.Duration{}}
		for _, j := range journeys {
			sc.Recovery[j] = time.Second
			for _, w := range []string{"steady", "during", "after"} {
				sc.Stats = append(sc.Stats, check.Stats{Journey: j, Window: w, Count: 10, Success: 0.9, P50: time.Millisecond, P99: 5 * time.Millisecond})
			}
			sc.Checks = append(sc.Checks, check.Result{Check: "slo", Journey: j, Window: "during", Verdict: check.Invalid,
				Summary: "summary " + text, Examples: []string{"example " + text}})
			for k := range 40 {
				o := history.Op{Scenario: name, Journey: j, Start: start + time.Duration(k)*250*time.Millisecond, Latency: time.Duration(k+1) * time.Millisecond, Outcome: history.OK}
				if k%7 == 0 {
					o.Outcome = history.Fail
				}
				ops = append(ops, o)
			}
		}
		sc.Checks = append(sc.Checks, check.Result{Check: "money", Verdict: check.Valid, Summary: "money " + text})
		events = append(events, history.Event{Scenario: name, At: start + 2*time.Second, Kind: "exited", Target: "target " + text, Detail: "detail " + text},
			history.Event{Scenario: name, At: start + 4*time.Second, Kind: "ready", Target: text})
		run.Scenarios = append(run.Scenarios, sc)
	}
	return run, ops, events
}

// parse parses a rendered page and returns its root.
func parse(t *testing.T, path string) *html.Node {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	doc, err := html.Parse(f)
	require.NoError(t, err)
	return doc
}

// walk calls fn on n and every node under it.
func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func TestReportEscapesEveryString(t *testing.T) {
	for _, text := range hostile {
		t.Run(text, func(t *testing.T) {
			run, ops, events := syntheticRun([]string{text, "TestPlain"}, []string{text, "card-auth"}, text)
			dir := writeRun(t, run, ops, events)
			require.NoError(t, reports.WriteDir(dir))

			for _, page := range []string{filepath.Join(dir, "index.html"), filepath.Join(filepath.Dir(dir), "trend.html")} {
				raw, err := os.ReadFile(page)
				require.NoError(t, err)
				assert.NotContains(t, string(raw), "<img", page)
				assert.NotContains(t, string(raw), "<script", page)

				var texts strings.Builder
				walk(parse(t, page), func(n *html.Node) {
					switch n.Type {
					case html.ElementNode:
						assert.NotContains(t, []string{"img", "script"}, n.Data, "%s: element from data", page)
						for _, a := range n.Attr {
							assert.False(t, strings.HasPrefix(a.Key, "on"), "%s: event handler attribute %s on <%s>", page, a.Key, n.Data)
						}
					case html.TextNode:
						texts.WriteString(n.Data)
					}
				})
				assert.Contains(t, texts.String(), text, "%s: the text is shown as text", page)
			}
			page, err := os.ReadFile(filepath.Join(dir, "index.html"))
			require.NoError(t, err)
			for _, want := range []string{"Expect: ", "slo check failed: ", "evidence ", "error ", "summary ", "example ", "money ", "kill ", "detail ", "target "} {
				assert.Contains(t, string(page), want+html.EscapeString(text), "%q shown escaped", want)
			}
		})
	}
}

func TestPagesForbidScripts(t *testing.T) {
	const csp = `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'none'`
	dir := savedRun(t)
	require.NoError(t, reports.WriteDir(dir))
	for _, page := range []string{filepath.Join(dir, "index.html"), filepath.Join(filepath.Dir(dir), "trend.html")} {
		b, err := os.ReadFile(page)
		require.NoError(t, err)
		head, _, ok := strings.Cut(string(b), "</head>")
		require.True(t, ok, page)
		assert.Contains(t, head, csp, page)
	}
}

func TestSVGIDsAreUnique(t *testing.T) {
	var names []string
	for i := range 12 {
		names = append(names, fmt.Sprintf("TestScenario%02d", i))
	}
	run, ops, events := syntheticRun(names, []string{"card-auth", "payments", "balance", "feed"}, "x")
	dir := writeRun(t, run, ops, events)
	require.NoError(t, reports.WriteDir(dir))
	for _, page := range []string{filepath.Join(dir, "index.html"), filepath.Join(filepath.Dir(dir), "trend.html")} {
		ids := map[string]int{}
		walk(parse(t, page), func(n *html.Node) {
			for _, a := range n.Attr {
				if a.Key == "id" {
					ids[a.Val]++
				}
			}
		})
		for id, n := range ids {
			assert.Equal(t, 1, n, "%s: id %q used %d times", page, id, n)
		}
		if strings.HasSuffix(page, "index.html") {
			assert.GreaterOrEqual(t, len(ids), 12*4, "one pattern a chart")
		}
	}
}
