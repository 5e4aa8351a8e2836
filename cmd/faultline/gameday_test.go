package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/harness"
)

// syncBuffer is the output of `faultline up`, read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestGameDay runs a game day with the real command on the real bank
// (local processes): `faultline up`, then from other processes a kill
// that recovers by itself, a latency recovered by hand, bad input
// refused (a pod delete on local processes among it), status, and
// `faultline down`, which must end up with a saved,
// valid run: both faults recovered, nothing left injected, money audited,
// the report rendered.
func TestGameDay(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "faultline")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	env := append(os.Environ(), "FAULTLINE_STATE="+filepath.Join(dir, "state"), "FAULTLINE_RUNS="+filepath.Join(dir, "runs"))
	faultline := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		t.Logf("faultline %s: %s", strings.Join(args, " "), out)
		return string(out), err
	}

	up := exec.Command(bin, "up")
	up.Env = env
	var upOut syncBuffer
	up.Stdout, up.Stderr = &upOut, &upOut
	require.NoError(t, up.Start())
	exited := make(chan struct{}) // closed when up has ended, with upErr
	var upErr error
	go func() { upErr = up.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default: // a failed test: end the game day as Ctrl-C would
			_ = up.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(3 * time.Minute):
				_ = up.Process.Kill()
			}
		}
		t.Logf("faultline up:\n%s", upOut.String())
	})

	// Up: the bank answers status once it is up and seeded.
	require.Eventually(t, func() bool {
		_, err := faultline("status")
		return err == nil
	}, 4*time.Minute, 2*time.Second, "faultline up never answered: %s", upOut.String())
	assert.Contains(t, upOut.String(), "card-api:")
	time.Sleep(harness.Warmup + 8*time.Second) // a steady state to judge the faults against

	// A kill that recovers by itself, and a latency recovered by hand.
	out1, err := faultline("inject", "kill", "card-processing", "-for", "3s")
	require.NoError(t, err)
	assert.Contains(t, out1, "f1: kill all of card-processing, for 3s")
	out2, err := faultline("inject", "-latency", "200ms", "latency", "cards")
	require.NoError(t, err)
	assert.Contains(t, out2, "f2: ")
	assert.Contains(t, out2, "until faultline recover f2")
	st, err := faultline("status")
	require.NoError(t, err)
	assert.Regexp(t, `f2\s+.*latency 200ms.*\s+on\s`, st)

	// Bad input is refused and injects nothing.
	_, err = faultline("inject", "kill", "nope")
	assert.Error(t, err)
	_, err = faultline("inject", "explode", "cards")
	assert.Error(t, err)
	_, err = faultline("recover", "f9")
	assert.Error(t, err)
	// A fault the local platform cannot make is refused with the reason,
	// and is not part of the session.
	pd, err := faultline("inject", "pod-delete", "cards")
	assert.Error(t, err)
	assert.Contains(t, pd, "local")

	assert.Eventually(t, func() bool {
		st, _ := faultline("status")
		return regexpMatch(`f1\s+.*recovered after`, st)
	}, time.Minute, time.Second, "f1 did not recover by itself")
	out3, err := faultline("recover", "f2")
	require.NoError(t, err)
	assert.Contains(t, out3, "recovered")
	_, err = faultline("recover", "f2")
	assert.Error(t, err, "a fault recovered twice")

	// The live lines: a line per journey every few seconds; and time after
	// the faults to see the bank recover.
	time.Sleep(12 * time.Second)
	assert.Eventually(t, func() bool {
		return regexpMatch(`card-auth\s+[0-9.]+/s\s+[0-9.]+%\s+p99`, upOut.String())
	}, 20*time.Second, time.Second, "no live line for card-auth")

	// Down ends up, and the session is a run.
	down, err := faultline("down")
	require.NoError(t, err)
	assert.Contains(t, down, "game day verdict valid")
	select {
	case <-exited:
		require.NoError(t, upErr, "faultline up")
	case <-time.After(3 * time.Minute):
		t.Fatal("faultline up did not end after down")
	}
	_, err = faultline("status")
	assert.ErrorContains(t, err, "exit status 1", "status after down")

	runs, err := filepath.Glob(filepath.Join(dir, "runs", "2*"))
	require.NoError(t, err)
	require.Len(t, runs, 1)
	run, err := result.Load(runs[0])
	require.NoError(t, err)
	require.Len(t, run.Scenarios, 1)
	sc := run.Scenarios[0]
	assert.Equal(t, harness.GameDayName, sc.Name)
	assert.Equal(t, check.Valid, sc.Verdict, "%v", sc.Failures)
	require.Len(t, sc.Faults, 2)
	for _, f := range sc.Faults {
		assert.Greater(t, f.Recovered, f.Injected, f.Name)
		assert.Empty(t, f.Error, f.Name)
	}
	checks := map[string]check.Verdict{}
	for _, c := range sc.Checks {
		checks[c.Check] = c.Verdict
	}
	assert.Equal(t, check.Valid, checks["leftovers"], "nothing left injected")
	assert.Contains(t, checks, "money")
	assert.FileExists(t, filepath.Join(runs[0], "index.html"))
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
