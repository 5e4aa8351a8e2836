package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/topology"
)

// LinkToxic puts one toxiproxy toxic on every link from From to To (each a
// service or instance name; "client" is the load's ingress; an empty From is
// every caller), in the caller's sidecar:
//
//	From instance ──► sidecar [toxic] ──► To instance
//
// With Both, the links from To to From get it too. The named constructors
// below (Latency, Bandwidth, Blackhole, ResetPeer, SlowClose, LimitData,
// Slicer) build the common ones.
type LinkToxic struct {
	From, To string
	Both     bool
	Toxic    platform.Toxic
	Label    string // what the report calls it, e.g. "latency 200ms±50ms"

	hit []platform.Link
}

func toxic(kind, stream string, attrs map[string]any) platform.Toxic {
	return platform.Toxic{Type: kind, Stream: stream, Toxicity: 1, Attributes: attrs}
}

// Latency delays data on from -> to by latency plus or minus jitter, both ways.
func Latency(from, to string, latency, jitter time.Duration) *LinkToxic {
	return &LinkToxic{From: from, To: to, Label: fmt.Sprintf("latency %v±%v", latency, jitter),
		Toxic: toxic("latency", "downstream", map[string]any{"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds()})}
}

// Bandwidth limits from -> to answers to kbps kilobytes per second.
func Bandwidth(from, to string, kbps int) *LinkToxic {
	return &LinkToxic{From: from, To: to, Label: fmt.Sprintf("bandwidth %d KB/s", kbps),
		Toxic: toxic("bandwidth", "downstream", map[string]any{"rate": kbps})}
}

// Blackhole lets no data through from -> to: requests hang (timeout toxic 0).
func Blackhole(from, to string) *LinkToxic {
	return &LinkToxic{From: from, To: to, Label: "blackhole",
		Toxic: toxic("timeout", "upstream", map[string]any{"timeout": 0})}
}

// Partition cuts a and b apart: one way (a cannot reach b) or both ways.
func Partition(a, b string, bothWays bool) *LinkToxic {
	l := Blackhole(a, b)
	l.Both, l.Label = bothWays, "partition (one way)"
	if bothWays {
		l.Label = "partition (both ways)"
	}
	return l
}

// ResetPeer resets connections from -> to after timeout (TCP RST).
func ResetPeer(from, to string, timeout time.Duration) *LinkToxic {
	return &LinkToxic{From: from, To: to, Label: fmt.Sprintf("reset after %v", timeout),
		Toxic: toxic("reset_peer", "upstream", map[string]any{"timeout": timeout.Milliseconds()})}
}

// SlowClose delays the closing of connections by delay.
func SlowClose(from, to string, delay time.Duration) *LinkToxic {
	return &LinkToxic{From: from, To: to, Label: fmt.Sprintf("slow close %v", delay),
		Toxic: toxic("slow_close", "downstream", map[string]any{"delay": delay.Milliseconds()})}
}

// LimitData closes connections after bytes bytes of answer.
func LimitData(from, to string, bytes int) *LinkToxic {
	return &LinkToxic{From: from, To: to, Label: fmt.Sprintf("limit data %dB", bytes),
		Toxic: toxic("limit_data", "downstream", map[string]any{"bytes": bytes})}
}

// Slicer slices answers into packets of about size bytes, delay apart.
func Slicer(from, to string, size int, delay time.Duration) *LinkToxic {
	return &LinkToxic{From: from, To: to, Label: fmt.Sprintf("slicer %dB/%v", size, delay),
		Toxic: toxic("slicer", "downstream", map[string]any{"average_size": size, "size_variation": size / 2, "delay": delay.Microseconds()})}
}

// Name implements Fault.
func (l *LinkToxic) Name() string {
	arrow := "->"
	if l.Both {
		arrow = "<->"
	}
	from := l.From
	if from == "" {
		from = "*"
	}
	return fmt.Sprintf("%s %s%s%s", l.Label, from, arrow, l.To)
}

// Services implements Targeted: the callee side is what degrades.
func (l *LinkToxic) Services() []string {
	out := []string{serviceOf(l.To)}
	if l.Both {
		out = append(out, serviceOf(l.From))
	}
	return out
}

func serviceOf(sel string) string {
	if _, ok := topology.Lookup(sel); ok || sel == topology.Store || sel == "client" {
		return sel
	}
	return Selector{Instance: sel}.service()
}

// Validate implements Fault.
func (l *LinkToxic) Validate() error {
	if l.To == "" {
		return errors.New("link fault needs a callee (To)")
	}
	for _, end := range []string{l.From, l.To} {
		if end == "" {
			continue
		}
		s := end
		if _, ok := topology.Lookup(s); !ok && s != "client" && s != topology.Store {
			if _, ok := topology.Lookup(serviceOf(s)); !ok && serviceOf(s) != topology.Store {
				return fmt.Errorf("unknown service or instance %q", end)
			}
		}
	}
	if l.Toxic.Type == "" {
		return errors.New("link fault without a toxic")
	}
	return nil
}

func (l *LinkToxic) name(env *Env) string { return "faultline-" + env.ID }

// Inject implements Fault.
func (l *LinkToxic) Inject(ctx context.Context, env *Env) error {
	ls, err := platform.As[platform.Links](env.Platform, "link faults")
	if err != nil {
		return err
	}
	l.hit = ls.Links(l.From, l.To)
	if l.Both {
		l.hit = append(l.hit, ls.Links(l.To, l.From)...)
	}
	if len(l.hit) == 0 {
		if l.From == "client" || l.To == "client" {
			return fmt.Errorf("%s: the %s platform has no proxy on its clients' links: %w", l.Name(), env.Platform.Name(), ErrUnsupported)
		}
		return fmt.Errorf("%s: no such links", l.Name())
	}
	if err := env.Journal.Write(journal.Entry{Kind: "link", ID: env.ID, Target: l.Name()}); err != nil {
		return err
	}
	t := l.Toxic
	t.Name = l.name(env)
	for _, lk := range l.hit {
		if err := lk.AddToxic(t); err != nil {
			return err
		}
	}
	return nil
}

// Verify implements Fault: the toxic is on every link.
func (l *LinkToxic) Verify(ctx context.Context, env *Env) (string, error) {
	for _, lk := range l.hit {
		if !slices.Contains(lk.Toxics(), l.name(env)) {
			return "", fmt.Errorf("toxic missing on %s->%s", lk.From().Name, lk.To().Name)
		}
	}
	var ends []string
	for _, lk := range l.hit[:min(3, len(l.hit))] {
		ends = append(ends, lk.From().Name+"->"+lk.To().Name)
	}
	return fmt.Sprintf("%s toxic on %d links (%s...)", l.Toxic.Type, len(l.hit), strings.Join(ends, ", ")), nil
}

// Recover implements Fault.
func (l *LinkToxic) Recover(ctx context.Context, env *Env) error {
	var errs []error
	for _, lk := range l.hit {
		errs = append(errs, lk.RemoveToxic(l.name(env)))
	}
	errs = append(errs, env.Journal.Remove(env.ID))
	return errors.Join(errs...)
}
