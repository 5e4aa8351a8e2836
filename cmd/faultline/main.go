// Command faultline is a thin command line over the harness and reports:
//
//	faultline report [-rejudge] <run-folder>
//	                                render index.html again from a saved run
//	                                (-rejudge: judge its history again first)
//	faultline reap                  recover what crashed runs left behind
//	faultline bench [-quick]        measure the harness and the bank (docs/PERFORMANCE.md)
//	faultline soak -n N [-short] [-run REGEX]
//	                                run the suite N times; count each scenario's verdicts
//	faultline sweep [-short] [-targets a,b] [-faults kill-all,...]
//	                                the blast-radius sweep: every fault kind on every
//	                                service, each feature's effect, tier contracts
//	faultline up                    a game day: the bank up under the standard load,
//	                                until faultline down (or Ctrl-C)
//	faultline inject <fault> <target> [-for 30s] [settings]
//	                                inject a fault of the catalogue into the bank up
//	faultline status                what is injected, and each journey now
//	faultline recover [id]          recover one fault, or every fault on
//	faultline down                  end the game day: recover, drain, judge, save
//	faultline kind host|image|create|delete
//	                                set up the host, build the offline node image,
//	                                create or delete the kind cluster
//
// Scenarios themselves run with `go test ./scenarios`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/bench"
	"github.com/faultline/faultline/reports"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "faultline:", err)
		os.Exit(1)
	}
}

func usage() error {
	return errors.New("usage: faultline report [-rejudge] <run-folder> | reap | bench [-quick] | soak -n N [-short] [-run REGEX] | sweep [-short] [-targets LIST] [-faults LIST] | up | inject FAULT TARGET [-for D] | status | recover [ID] | down | kind host|image|create|delete")
}

func run(args []string) error {
	if len(args) == 0 {
		return usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch args[0] {
	case "report":
		return runReport(args[1:])
	case "reap":
		r, err := platform.Reap(journal.DefaultDir())
		if err != nil && r.Entries == 0 {
			return err // e.g. a journal directory others can write to: nothing was read
		}
		fmt.Printf("reaped %d entries of runs %v: killed %d processes, resumed %d, detached %d mounts, removed %d control groups and %d iptables chains\n", r.Entries, r.Runs, len(r.Killed), len(r.Resumed), len(r.Detached), len(r.Released), len(r.Unchained))
		for _, s := range r.Skipped {
			fmt.Printf("left alone %v\n", s)
		}
		return err
	case "bench":
		return runBench(ctx, args[1:])
	case "soak":
		return runSoak(ctx, args[1:])
	case "sweep":
		return runSweep(ctx, args[1:])
	case "up":
		return runUp(args[1:])
	case "inject":
		return runInject(ctx, args[1:])
	case "status":
		return runStatus(ctx)
	case "recover":
		return runRecover(ctx, args[1:])
	case "down":
		return runDown(ctx)
	case "kind":
		return runKind(ctx, args[1:])
	}
	return usage()
}

func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "fewer and shorter steps")
	if err := fs.Parse(args); err != nil {
		return err
	}
	out := func(format string, a ...any) { fmt.Printf(format+"\n", a...) }
	step := 5 * time.Second
	loadRates := []float64{1000, 2000, 4000, 6000, 8000}
	cardRates := []float64{25, 50, 100, 150, 200, 300, 400, 500, 600}
	if *quick {
		step, loadRates, cardRates = 2*time.Second, []float64{1000, 4000}, []float64{50, 100}
	}
	out("== load generator vs bare vegeta (trivial handler, %v a step)", step)
	bench.LoadRate(ctx, loadRates, step, out)
	out("== sidecar hop")
	bench.SidecarHop(5000, out)
	out("== whole mesh")
	return bench.Mesh(ctx, cardRates, step, 50*time.Millisecond, out)
}

func runReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	rejudge := fs.Bool("rejudge", false, "judge the saved history again with today's checkers before rendering")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usage()
	}
	dir := fs.Arg(0)
	if *rejudge {
		changed, err := harness.Rejudge(dir)
		if err != nil {
			return err
		}
		fmt.Printf("judged again: %d scenario verdicts changed\n", changed)
	}
	if err := reports.WriteDir(dir); err != nil {
		return err
	}
	fmt.Println(dir + "/index.html")
	return nil
}
