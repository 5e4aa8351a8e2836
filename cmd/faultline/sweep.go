package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/platform/local"
	"github.com/faultline/faultline/harness"
)

// runSweep runs the blast-radius sweep (scenarios.TestSweep) with go test,
// narrowed to -targets and -faults, its progress lines on the terminal;
// the run folder and report are named at the end as for any run.
func runSweep(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	short := fs.Bool("short", false, "shorter windows (go test -short)")
	targets := fs.String("targets", "", "comma-separated services or store nodes (store-0...); default every service")
	kinds := fs.String("faults", "", "comma-separated fault kinds; default all: "+kindNames())
	timeout := fs.Duration("timeout", 60*time.Minute, "go test -timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sweep: unexpected arguments %v", fs.Args())
	}
	env := append(os.Environ(), "FAULTLINE_SWEEP=on")
	sw := harness.Sweep{}
	if *targets != "" {
		sw.Targets = strings.Split(*targets, ",")
		env = append(env, "FAULTLINE_SWEEP_TARGETS="+*targets)
	}
	if *kinds != "" {
		sw.Kinds = strings.Split(*kinds, ",")
		env = append(env, "FAULTLINE_SWEEP_FAULTS="+*kinds)
	}
	if err := sw.Check(*short); err != nil {
		return fmt.Errorf("sweep: nothing was started:\n%w", err)
	}
	root, err := local.ModuleRoot()
	if err != nil {
		return err
	}
	goArgs := []string{"test", "./scenarios", "-run", "^TestSweep$", "-count=1", "-v", "-timeout", timeout.String()}
	if *short {
		goArgs = append(goArgs, "-short")
	}
	cmd := exec.CommandContext(ctx, "go", goArgs...)
	cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.Env = root, os.Stdout, os.Stderr, env
	// Interrupt, not kill, so that the harness recovers its faults and
	// stops the bank; kill only if it has not ended a minute later.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	fmt.Fprintf(os.Stderr, "faultline sweep: go %s\n", strings.Join(goArgs, " "))
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("sweep: failed (exit %d): its findings are at the top of the report named above", exit.ExitCode())
		}
		return err
	}
	return nil
}

func kindNames() string {
	var out []string
	for _, k := range harness.SweepKinds {
		out = append(out, k.Name)
	}
	return strings.Join(out, ", ")
}
