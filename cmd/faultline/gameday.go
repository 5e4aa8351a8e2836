package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/harness"
)

// runUp brings the bank up under the standard load and keeps it until
// `faultline down` or an interrupt; either ends the session the same way:
// faults recovered, the bank drained and audited, the run saved.
func runUp(args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("up: unexpected arguments %v (FAULTLINE_PLATFORM and the other variables choose the run)", fs.Args())
	}
	// From the start: an interrupt while the bank starts ends the session
	// as soon as it is up.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	g, err := harness.UpGameDay()
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	down, closeSocket, err := g.Serve()
	if err != nil {
		_, derr := g.Down(context.Background())
		return fmt.Errorf("%w (the bank was stopped: %v)", err, derr)
	}
	fmt.Printf("faultline up: the bank is up on %s; run folder %s\n", g.Platform(), g.RunDir())
	entry := g.EntryPoints()
	for _, name := range []string{"edge", "card-api"} {
		fmt.Printf("  %-9s %s\n", name+":", strings.Join(entry[name], " "))
	}
	fmt.Println("  break it: faultline inject kill card-processing --for 30s   (faultline inject -h lists the catalogue)")
	fmt.Println("  see it:   faultline status        end it: faultline down (or Ctrl-C)")
	go g.Live(ctx, os.Stdout)
	var rep harness.DownReport
	select {
	case rep = <-down:
	case sig := <-sigs:
		fmt.Printf("faultline up: %v: recovering faults, draining and saving the session\n", sig)
		res, err := g.Down(context.Background())
		rep = harness.NewDownReport(g.RunDir(), res, err)
	}
	closeSocket()
	return printDown(rep)
}

func printDown(rep harness.DownReport) error {
	fmt.Printf("faultline: game day verdict %s\nfaultline: report %s/index.html\n", rep.Verdict, rep.RunDir)
	for _, f := range rep.Failures {
		fmt.Println("  failed: " + f)
	}
	for _, u := range rep.Unknown {
		fmt.Println("  could not tell: " + u)
	}
	if rep.Error != "" {
		return fmt.Errorf("down: %s", rep.Error)
	}
	return nil
}

func runInject(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("inject", flag.ContinueOnError)
	p := faults.DefaultParams
	d := fs.Duration("for", 0, "recover it after this long (0: when you run faultline recover or down)")
	fs.StringVar(&p.From, "from", p.From, "link faults: only the links from this service or instance")
	fs.DurationVar(&p.Latency, "latency", p.Latency, "latency, delay, disk-slow")
	fs.DurationVar(&p.Jitter, "jitter", p.Jitter, "latency")
	fs.Float64Var(&p.Rate, "rate", p.Rate, "errors, delay: the share of requests")
	fs.IntVar(&p.Status, "status", p.Status, "errors: the HTTP status")
	fs.StringVar(&p.Route, "route", p.Route, "errors, delay: the path prefix")
	fs.BoolVar(&p.Both, "both", p.Both, "partition: both ways")
	fs.Float64Var(&p.Cores, "cores", p.Cores, "cpu-limit")
	fs.Int64Var(&p.Bytes, "bytes", p.Bytes, "memory-limit (0: low enough to be OOM-killed)")
	fs.DurationVar(&p.Every, "every", p.Every, "flap")
	fs.DurationVar(&p.Grace, "grace", p.Grace, "pod-delete")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: faultline inject <fault> <target> [flags]\n\nfaults:")
		tw := tabwriter.NewWriter(fs.Output(), 2, 4, 2, ' ', 0)
		for _, e := range faults.Catalogue {
			settings := ""
			if len(e.Params) > 0 {
				settings = " [-" + strings.Join(e.Params, "] [-") + "]"
			}
			fmt.Fprintf(tw, "  %s\t<%s>%s\t%s\n", e.Name, e.Target, settings, e.Desc)
		}
		tw.Flush()
		fmt.Fprintln(fs.Output(), "\nflags:")
		fs.PrintDefaults()
	}
	// Flags may come before the fault and target, or after them.
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	pos := fs.Args()
	if len(pos) < 2 {
		fs.Usage()
		return fmt.Errorf("inject: want a fault and a target")
	}
	name, target := pos[0], pos[1]
	if err := fs.Parse(pos[2:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("inject: unexpected arguments %v", fs.Args())
	}
	if _, err := faults.FromCatalogue(name, target, p); err != nil {
		return fmt.Errorf("inject: %w", err)
	}
	c, err := harness.DialGameDay()
	if err != nil {
		return err
	}
	st, err := c.Inject(ctx, harness.InjectRequest{Fault: name, Target: target, Params: p, For: *d})
	if err != nil {
		return fmt.Errorf("inject: %w", err)
	}
	if st.Error != "" {
		return fmt.Errorf("inject: %s (%s) failed and was undone: %s", st.ID, st.Name, st.Error)
	}
	until := "until faultline recover " + st.ID
	if *d > 0 {
		until = "for " + d.String()
	}
	fmt.Printf("%s: %s, %s (%s)\n", st.ID, st.Name, until, st.Evidence)
	return nil
}

func runStatus(ctx context.Context) error {
	c, err := harness.DialGameDay()
	if err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("game day on %s, run folder %s\n", st.Platform, st.RunDir)
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "fault\tname\tstate\tevidence")
	for _, f := range st.Faults {
		state := "on"
		switch {
		case !f.On():
			state = "recovered after " + (f.Recovered - f.Injected).Round(time.Second).String()
		case f.Left > 0:
			state = "on, " + f.Left.Round(time.Second).String() + " left"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s%s\n", f.ID, f.Name, state, f.Evidence, f.Error)
	}
	fmt.Fprintln(tw, "\njourney\trate\tsuccess\tp99 (last 5s)")
	for _, j := range st.Journeys {
		fmt.Fprintf(tw, "%s\t%.1f/s\t%.2f%%\t%v\n", j.Journey, j.Rate, 100*j.Success, j.P99.Round(time.Millisecond))
	}
	return tw.Flush()
}

func runRecover(ctx context.Context, args []string) error {
	if len(args) > 1 {
		return fmt.Errorf("recover: want one fault id (faultline status lists them), or none for every fault on")
	}
	c, err := harness.DialGameDay()
	if err != nil {
		return err
	}
	id := ""
	if len(args) > 0 {
		id = args[0]
	}
	st, err := c.Recover(ctx, id)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, f := range st {
		if id == "" || f.ID == id {
			state := "recovered"
			if f.On() {
				state = "still on"
			}
			fmt.Printf("%s: %s %s\n", f.ID, f.Name, state)
		}
	}
	return nil
}

func runDown(ctx context.Context) error {
	c, err := harness.DialGameDay()
	if err != nil {
		return err
	}
	rep, err := c.Down(ctx)
	if err != nil {
		return err
	}
	return printDown(rep)
}
