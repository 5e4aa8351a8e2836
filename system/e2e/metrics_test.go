package e2e_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/platform"
)

// metricSum reads an instance's /metrics (with the run's admin token) and
// sums the samples of the metric name whose labels contain every one of
// labels (each written as the exposition format does, for example
// `code="409"`).
func metricSum(t *testing.T, p platform.Endpoints, addr, name string, labels ...string) float64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
	resp, err := harnessHTTP(t).Do(platform.Authorize(req, p))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var n float64
lines:
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		var v float64
		_, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
		require.NoError(t, err, line)
		n += v
	}
	return n
}
