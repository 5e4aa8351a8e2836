// Package soak measures false alarms: it runs the scenario suite several
// times in a row against the clean bank and counts each scenario's
// verdicts, so that a checker which cries wolf shows up as a number.
//
// It does not judge anything: verdicts come from each run's results.json,
// read with reports.ReadResults (so checked against the schema). It is not
// for running one scenario while developing it; use go test for that.
package soak

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/reports"
)

// DefaultTimeout is each suite run's go test -timeout: the full-length
// suite takes about 10 minutes, so go test's own default would cut it.
const DefaultTimeout = 60 * time.Minute

// Options says what to soak and where.
type Options struct {
	N     int    // runs of the suite, at least 1
	Short bool   // go test -short
	Run   string // go test -run, when not empty
	// Dir is the soak folder: every run's folder (FAULTLINE_RUNS) and its
	// go test output, soak-<n>.log, go there. It is created if missing.
	Dir string
	// Module is the folder go test runs in (the module's root).
	Module  string
	Timeout time.Duration // each run's go test -timeout; DefaultTimeout if not positive
	Go      string        // the go command; "go" if empty
	// Progress, if set, is told when each run starts and ends.
	Progress func(format string, args ...any)
}

// Outcome is one run of the suite.
type Outcome struct {
	N   int         // 1 for the first run
	Log string      // go test's output
	Dir string      // the run's folder; empty if the run made none
	Run *result.Run // nil if no results could be read
	// Err says why Run is nil, or that go test failed without an invalid
	// verdict to show for it.
	Err error
}

// Args returns the go test arguments of one run.
func (o Options) Args() []string {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	args := []string{"test", "./scenarios", "-count=1", "-timeout", timeout.String()}
	if o.Short {
		args = append(args, "-short")
	}
	if o.Run != "" {
		args = append(args, "-run", o.Run)
	}
	return args
}

// Soak runs the suite o.N times, one after the other, and returns what
// each run left. It blocks until the last run ends; cancelling ctx
// interrupts the running go test (which stops its bank) and starts no
// more runs. The error is about the soak itself (a folder it could not
// make, a go command it could not start), never about verdicts.
func Soak(ctx context.Context, o Options) ([]Outcome, error) {
	if o.N < 1 {
		return nil, fmt.Errorf("soak: %d runs, want at least 1", o.N)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("make soak folder: %w", err)
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	var outs []Outcome
	for n := 1; n <= o.N && ctx.Err() == nil; n++ {
		out, err := o.runOnce(ctx, dir, n)
		if err != nil {
			return outs, err
		}
		outs = append(outs, out)
	}
	return outs, ctx.Err()
}

func (o Options) runOnce(ctx context.Context, dir string, n int) (Outcome, error) {
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	before, err := runFolders(dir)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{N: n, Log: filepath.Join(dir, fmt.Sprintf("soak-%d.log", n))}
	log, err := os.OpenFile(out.Log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return out, fmt.Errorf("open log: %w", err)
	}
	defer log.Close()
	goCmd := o.Go
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, o.Args()...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = o.Module, log, log
	cmd.Env = append(os.Environ(), "FAULTLINE_RUNS="+dir)
	// Interrupt, not kill, so that the suite recovers its faults and stops
	// its bank; kill only if it has not ended a minute later.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	progress("soak %d/%d: go %s (output in %s)", n, o.N, strings.Join(cmd.Args[1:], " "), out.Log)
	t0 := time.Now()
	runErr := cmd.Run()
	var exit *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exit) {
		return out, fmt.Errorf("run %d: %w", n, runErr)
	}
	after, err := runFolders(dir)
	if err != nil {
		return out, err
	}
	if fresh := slices.DeleteFunc(after, func(f string) bool { return slices.Contains(before, f) }); len(fresh) > 0 {
		out = readRun(n, filepath.Join(dir, fresh[len(fresh)-1]))
		out.Log = filepath.Join(dir, fmt.Sprintf("soak-%d.log", n))
	} else {
		out.Err = errors.New("the suite made no run folder")
	}
	if runErr != nil && out.Err == nil && !hasInvalid(out.Run) {
		out.Err = fmt.Errorf("go test: %w with no invalid verdict (see %s)", runErr, out.Log)
	}
	progress("soak %d/%d: %s after %v", n, o.N, tally(out), time.Since(t0).Round(time.Second))
	return out, nil
}

// runFolders lists the run folders in dir, oldest first (run IDs start
// with their UTC time).
func runFolders(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list soak folder: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Collect reads every run folder in dir, oldest first, as the outcomes of
// a soak: to summarise a soak folder again, or one filled by hand.
func Collect(dir string) ([]Outcome, error) {
	names, err := runFolders(dir)
	if err != nil {
		return nil, err
	}
	outs := make([]Outcome, 0, len(names))
	for i, name := range names {
		outs = append(outs, readRun(i+1, filepath.Join(dir, name)))
	}
	return outs, nil
}

func readRun(n int, dir string) Outcome {
	r, err := reports.ReadResults(dir)
	return Outcome{N: n, Dir: dir, Run: r, Err: err}
}

func hasInvalid(r *result.Run) bool {
	if r == nil {
		return false
	}
	for _, sc := range r.Scenarios {
		if sc.Verdict == check.Invalid {
			return true
		}
	}
	return false
}
