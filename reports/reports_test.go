package reports_test

import (
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/reports"
)

// savedRun copies testdata/run (one scenario of a real run: three deferred
// workers paused for 10s) into a runs folder and returns the run folder.
func savedRun(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "runs", "20261128-035649-bd10")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, f := range []string{"results.json", "events.jsonl"} {
		b, err := os.ReadFile(filepath.Join("testdata", "run", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	in, err := os.Open(filepath.Join("testdata", "run", "ops.jsonl.gz"))
	require.NoError(t, err)
	defer in.Close()
	zr, err := gzip.NewReader(in)
	require.NoError(t, err)
	out, err := os.Create(filepath.Join(dir, "ops.jsonl"))
	require.NoError(t, err)
	_, err = io.Copy(out, zr)
	require.NoError(t, err)
	require.NoError(t, out.Close())
	return dir
}

func TestReportShowsTheRun(t *testing.T) {
	dir := savedRun(t)
	require.NoError(t, reports.WriteDir(dir))
	run, err := result.Load(dir)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	page := string(b)
	sc := run.Scenarios[0]

	assert.Contains(t, page, "Faultline run <code>"+run.ID+"</code>")
	assert.Contains(t, page, `<span class="badge valid">valid</span>`)
	assert.Contains(t, page, sc.Name)
	assert.Contains(t, page, "deferred workers", "the runbook is shown")
	assert.NotContains(t, page, "http://", "no external resource")
	assert.NotContains(t, page, "<script", "no script needed")

	// Every journey has a chart with one hatched band per fault.
	charts := strings.Count(page, `<svg class="chart"`)
	assert.Equal(t, 9, charts)
	assert.Equal(t, 9*len(sc.Faults), strings.Count(page, `class="fault"`))

	// The band of the first fault starts where the fault was injected.
	const chartW, padL = 640.0, 44.0
	want := padL + (chartW-padL-4)*float64(sc.Faults[0].Injected-sc.Start)/float64(sc.End-sc.Start)
	m := regexp.MustCompile(`<rect class="fault" x="([0-9.]+)"[^>]*><title>` + regexp.QuoteMeta(sc.Faults[0].Name)).FindStringSubmatch(page)
	require.NotNil(t, m, "fault band for %s", sc.Faults[0].Name)
	x, _ := strconv.ParseFloat(m[1], 64)
	assert.InDelta(t, want, x, 0.1)

	// The SLO table shows the saved figures.
	for _, st := range sc.Stats {
		if st.Journey == "card-auth" && st.Window == "during" {
			assert.Contains(t, page, fmt.Sprintf("<td>card-auth</td><td>during</td><td>%d</td><td>%.2f%%</td>", st.Count, 100*st.Success))
		}
	}
	assert.Contains(t, page, "Blast radius")
	assert.Contains(t, page, "money</td>")
}

func TestJUnitAndTrend(t *testing.T) {
	dir := savedRun(t)
	require.NoError(t, reports.WriteDir(dir))
	b, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	require.NoError(t, err)
	var j struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(b, &j))
	require.Len(t, j.Suites, 1)
	assert.Equal(t, 1, j.Suites[0].Tests)
	assert.Equal(t, 0, j.Suites[0].Failures)
	assert.Equal(t, "TestDeferredWorkCatchesUp", j.Suites[0].Cases[0].Name)

	trend, err := os.ReadFile(filepath.Join(filepath.Dir(dir), "trend.html"))
	require.NoError(t, err)
	assert.Contains(t, string(trend), "TestDeferredWorkCatchesUp")
	assert.Contains(t, string(trend), filepath.Base(dir)+"/index.html")
}

func TestResultsMatchTheirSchema(t *testing.T) {
	dir := savedRun(t)
	c := jsonschema.NewCompiler()
	sch, err := c.Compile("results.schema.json")
	require.NoError(t, err)
	f, err := os.Open(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	require.NoError(t, sch.Validate(doc))

	// And a run written by this code's types, not only the saved one.
	run, err := result.Load(dir)
	require.NoError(t, err)
	out := t.TempDir()
	require.NoError(t, run.Save(out))
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	doc2, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(doc2))

	// A broken document is refused.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"id":"x","platform":"mars","started":"now","duration":-1,"seed":1,"verdict":"fine","scenarios":[]}`))
	assert.Error(t, sch.Validate(bad))
}
