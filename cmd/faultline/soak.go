package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/groundwork/platform/local"
	"github.com/faultline/faultline/harness/soak"
)

// runSoak runs the suite -n times and prints each scenario's verdict
// counts; it fails if any run had an invalid verdict or broke.
func runSoak(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	n := fs.Int("n", 5, "runs of the suite")
	short := fs.Bool("short", false, "go test -short")
	run := fs.String("run", "", "go test -run `regexp`")
	dir := fs.String("dir", "", "soak folder (default runs/soak-<UTC time>)")
	timeout := fs.Duration("timeout", soak.DefaultTimeout, "each run's go test -timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("soak: unexpected arguments %v", fs.Args())
	}
	root, err := local.ModuleRoot()
	if err != nil {
		return err
	}
	if *dir == "" {
		*dir = filepath.Join(root, "runs", "soak-"+time.Now().UTC().Format("20060102-150405"))
	}
	outs, err := soak.Soak(ctx, soak.Options{N: *n, Short: *short, Run: *run, Dir: *dir, Module: root, Timeout: *timeout,
		Progress: func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }})
	s := soak.Summarize(outs)
	if werr := s.Write(os.Stdout); werr != nil {
		return errors.Join(err, werr)
	}
	if err != nil {
		return fmt.Errorf("soak stopped after %d of %d runs: %w", len(outs), *n, err)
	}
	if s.Failed() {
		return fmt.Errorf("soak: a run had an invalid verdict or broke (runs and logs in %s)", *dir)
	}
	return nil
}
