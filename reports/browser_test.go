package reports_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/reports"
)

// chromium finds Debian's chromium; CI installs it (scripts/install-chromium).
func chromium(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: .ci/run must run scripts/install-chromium")
	}
	t.Skip("chromium is not installed (scripts/install-chromium installs it)")
	return ""
}

// TestReportInAHeadlessBrowser opens the report in Debian's chromium with
// networking cut off, finds no console errors and no request leaving the
// file, and takes a screenshot (kept in FAULTLINE_SCREENSHOTS if set).
func TestReportInAHeadlessBrowser(t *testing.T) {
	exe := chromium(t)
	dir := savedRun(t)
	require.NoError(t, reports.WriteDir(dir))
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("proxy-server", "127.0.0.1:9"), // any request to the network fails
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()

	// The first Run starts the browser (with no timeout on its context).
	_, err := chromedp.Run(ctx, chromedp.Title())
	require.NoError(t, err)
	var mu sync.Mutex
	var problems, requests []string
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, "console "+string(e.Type))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				problems = append(problems, "log: "+e.Entry.Text)
			}
		case *network.EventRequestWillBeSent:
			if !strings.HasPrefix(e.Request.URL, "file://") && !strings.HasPrefix(e.Request.URL, "data:") {
				requests = append(requests, e.Request.URL)
			}
		}
	}))
	tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
	defer tcancel()
	url := "file://" + filepath.Join(dir, "index.html")
	t0 := time.Now()
	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate(url)))
	title, err := chromedp.Run(tctx, chromedp.Title())
	require.NoError(t, err)
	charts, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.chart").length`))
	require.NoError(t, err)
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(80))
	require.NoError(t, err)
	loaded := time.Since(t0)
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, problems)
	assert.Empty(t, requests, "the report must not need the network")
	assert.Contains(t, title, "valid")
	assert.Equal(t, 9, charts)
	assert.Greater(t, len(shot), 10_000)
	t.Logf("report loaded and rendered in %v; screenshot %d bytes", loaded, len(shot))
	if d := os.Getenv("FAULTLINE_SCREENSHOTS"); d != "" {
		require.NoError(t, os.WriteFile(filepath.Join(d, "report.jpg"), shot, 0o644))
	}
}
