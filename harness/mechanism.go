package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/mesh"
)

// Check builders for the mechanisms docs/BANK.md promises for calls between
// services (docs/PROMISES.md lists which scenario uses which). Each returns
// a Check that is invalid when the mechanism demonstrably did not act while
// the fault was on, and unknown when the bank could not be read.

// counters is a per-instance reading of one counter.
type counters map[string]float64

// increase is the counter's rise from before to after, summed over the
// instances read both times. An instance whose counter went down was
// restarted in between: its rise is what it counted since the restart (the
// counts of the process that died are lost, so this is a lower bound).
func increase(before, after counters) float64 {
	total := 0.0
	for inst, a := range after {
		b := before[inst]
		if a < b {
			b = 0
		}
		total += a - b
	}
	return total
}

// MetricRises is a check that counter metric of service, summed over its
// instances and over the samples whose labels include labels, rises by at
// least min between just before the first fault and after the queues have
// drained. why says in a few words what the rise shows (for the summary).
func MetricRises(name, service, metric string, labels map[string]string, min float64, why string) Check {
	what := metric + formatLabels(labels) + " of " + service
	return Check{
		Name: name,
		Before: func(ctx context.Context, in *Inspect) (any, error) {
			return in.MetricByInstance(ctx, service, metric, labels)
		},
		After: func(ctx context.Context, in *Inspect, before any) check.Result {
			b, ok := before.(map[string]float64)
			if !ok || len(b) == 0 {
				return check.Result{Verdict: check.Unknown, Summary: "no baseline of " + what + " was read before the faults"}
			}
			a, err := in.MetricByInstance(ctx, service, metric, labels)
			if err != nil {
				return check.Result{Verdict: check.Unknown, Summary: "cannot read " + what + ": " + err.Error()}
			}
			d := increase(b, a)
			r := check.Result{Verdict: check.Valid, Summary: fmt.Sprintf("%s rose by %.0f (at least %.0f wanted): %s", what, d, min, why)}
			if d < min {
				r.Verdict = check.Invalid
				r.Summary = fmt.Sprintf("%s rose by %.0f, fewer than %.0f: the mechanism did not act (%s)", what, d, min, why)
			}
			return r
		},
	}
}

// Ejections is a check that the callers' circuit breakers ejected an
// endpoint of dep at least min times (transitions to open, summed over the
// instances of every caller).
func Ejections(name, dep string, min float64, callers ...string) Check {
	labels := map[string]string{"dep": dep, "to": mesh.BreakerOpen}
	return Check{
		Name: name,
		Before: func(ctx context.Context, in *Inspect) (any, error) {
			out := map[string]counters{}
			var first error
			for _, c := range callers {
				v, err := in.MetricByInstance(ctx, c, mesh.MetricBreakerChanges, labels)
				out[c] = v
				first = cmpOr(first, err)
			}
			return out, first
		},
		After: func(ctx context.Context, in *Inspect, before any) check.Result {
			b, _ := before.(map[string]counters)
			total := 0.0
			var parts []string
			for _, c := range callers {
				if len(b[c]) == 0 {
					return check.Result{Verdict: check.Unknown, Summary: "no baseline of " + c + "'s breakers was read before the faults"}
				}
				a, err := in.MetricByInstance(ctx, c, mesh.MetricBreakerChanges, labels)
				if err != nil {
					return check.Result{Verdict: check.Unknown, Summary: "cannot read " + c + "'s breakers: " + err.Error()}
				}
				d := increase(b[c], a)
				total += d
				parts = append(parts, fmt.Sprintf("%s %.0f", c, d))
			}
			r := check.Result{Verdict: check.Valid, Summary: fmt.Sprintf("endpoints of %s ejected %.0f times (%s; at least %.0f wanted)", dep, total, strings.Join(parts, ", "), min)}
			if total < min {
				r.Verdict = check.Invalid
				r.Summary = fmt.Sprintf("endpoints of %s ejected %.0f times (%s), fewer than %.0f: failure detection did not eject the failing endpoint", dep, total, strings.Join(parts, ", "), min)
			}
			return r
		},
	}
}

// DrainEvery is how often GracefulDrain samples the stopping services.
const DrainEvery = 100 * time.Millisecond

// drainSampler records, per instance, whether it was ever seen draining
// and how many requests it answered after SIGTERM. A draining process's
// metrics die with it, so they are sampled while the faults are on rather
// than read after.
type drainSampler struct {
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	draining map[string]bool
	served   map[string]float64
}

func (d *drainSampler) run(ctx context.Context, in *Inspect, services []string) {
	defer close(d.done)
	t := time.NewTicker(DrainEvery)
	defer t.Stop()
	for !faultsOver(in.Events()) {
		for _, svc := range services {
			for _, inst := range in.s.plat.Instances(svc) {
				d.sample(ctx, in.s, inst)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-d.stop:
			return
		case <-t.C:
		}
	}
}

// sample asks inst whether it is draining (its /readyz, which is cheap),
// and only then reads how many requests it served since its SIGTERM.
func (d *drainSampler) sample(ctx context.Context, s *suite, inst platform.Instance) {
	ctx, cancel := context.WithTimeout(ctx, DrainEvery)
	defer cancel()
	addr, err := s.endpoint(ctx, inst)
	if err != nil {
		return
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url(addr, "/readyz"), nil)
	resp, err := s.http().Do(req)
	if err != nil {
		return
	}
	var body mesh.Error
	_ = json.NewDecoder(resp.Body).Decode(&body)
	_, _ = io.Copy(io.Discard, resp.Body) // to the end: the connection serves the next sample
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || body.Code != "draining" {
		return
	}
	served, _ := s.scrape(ctx, inst, mesh.MetricDrainRequests, map[string]string{"outcome": mesh.DrainServed})
	d.mu.Lock()
	d.draining[inst.Name] = true
	d.served[inst.Name] = max(d.served[inst.Name], served)
	d.mu.Unlock()
}

// faultsOver reports whether every fault injected so far was recovered.
func faultsOver(evs []history.Event) bool {
	injected, recovered := 0, 0
	for _, e := range evs {
		switch e.Kind {
		case history.FaultInjected:
			injected++
		case history.FaultRecovered:
			recovered++
		}
	}
	return injected > 0 && recovered >= injected
}

// GracefulDrain is a check that instances of services stopped during the
// scenario drained: at least half were seen draining (not ready, still
// serving) after its SIGTERM, and each exited with status 0, which a bank
// process only does when its drain finished within its bound (a timed-out
// drain, one that cut requests, exits 1). It polls the services' /readyz
// every DrainEvery while the faults are on, and reads the drain metrics of
// an instance it finds draining, since a stopping process's metrics go with
// it.
func GracefulDrain(name string, services ...string) Check {
	return Check{
		Name: name,
		Before: func(ctx context.Context, in *Inspect) (any, error) {
			d := &drainSampler{stop: make(chan struct{}), done: make(chan struct{}), draining: map[string]bool{}, served: map[string]float64{}}
			go d.run(ctx, in, services)
			return d, nil
		},
		After: func(ctx context.Context, in *Inspect, before any) check.Result {
			d, ok := before.(*drainSampler)
			if !ok {
				return check.Result{Verdict: check.Unknown, Summary: "the drain sampler did not start"}
			}
			close(d.stop)
			<-d.done
			stopped := map[string]bool{}
			for _, s := range services {
				for _, inst := range in.s.plat.Instances(s) {
					stopped[inst.Name] = false
				}
			}
			var exits, bad []string
			for _, e := range in.Events() {
				if _, ours := stopped[e.Target]; !ours || e.Kind != platform.EventExited {
					continue
				}
				exits = append(exits, e.Target)
				if e.Detail != platform.ExitedCleanly {
					bad = append(bad, fmt.Sprintf("%s at %v: %s", e.Target, e.At.Round(time.Millisecond), e.Detail))
				}
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			seen, served := 0, 0.0
			for _, inst := range exits {
				if d.draining[inst] {
					seen++
				}
				served += d.served[inst]
			}
			summary := fmt.Sprintf("%d instances of %s exited, %d exited 0, %d seen draining (serving %.0f requests after SIGTERM)",
				len(exits), strings.Join(services, ", "), len(exits)-len(bad), seen, served)
			r := check.Result{Verdict: check.Valid, Summary: summary, Examples: bad}
			switch {
			case len(exits) == 0:
				r.Verdict, r.Summary = check.Unknown, "no instance of "+strings.Join(services, ", ")+" was stopped: nothing drained"
			case len(bad) > 0:
				r.Verdict, r.Summary = check.Invalid, "a stopped instance did not drain cleanly: "+summary
			case 2*seen < len(exits):
				// Polled every DrainEvery through a PreStopDelay of 400 ms, a
				// draining instance is seen unless the machine stalls.
				r.Verdict, r.Summary = check.Invalid, "fewer than half the stopped instances were seen draining (exited without their pre-stop drain): "+summary
			}
			return r
		},
	}
}

// CaughtUp is a check that deferred work stopped by the scenario's faults
// caught up with nothing left behind: once the faults are over, every named
// durable consumer of service handled messages and its backlog (pending
// plus unacknowledged) returns to zero within limit. The summary says how
// many messages each handled while behind, under the catch-up pace.
func CaughtUp(name, service string, limit time.Duration, consumers ...string) Check {
	return caughtUp(name, service, limit, false, consumers)
}

// CaughtUpAtPace is CaughtUp for consumers whose stream went on being
// written while they were stopped (enrichment reads the ledger, which card
// payments write): they come back to a backlog, so each must also have
// handled part of it under the catch-up pace, the bank's promise that a
// backlog does not reach the stores all at once. A consumer whose producer
// was stopped with it comes back to fresh messages and is never behind:
// use CaughtUp for it.
func CaughtUpAtPace(name, service string, limit time.Duration, consumers ...string) Check {
	return caughtUp(name, service, limit, true, consumers)
}

func caughtUp(name, service string, limit time.Duration, atPace bool, consumers []string) Check {
	type reading struct{ handled, paced, waited counters }
	read := func(ctx context.Context, in *Inspect, c string) (reading, error) {
		var r reading
		var err1, err2, err3 error
		r.handled, err1 = in.MetricByInstance(ctx, service, mesh.MetricConsumerMessages, map[string]string{"consumer": c, "outcome": "ok"})
		r.paced, err2 = in.MetricByInstance(ctx, service, mesh.MetricConsumerCatchUp, map[string]string{"consumer": c})
		r.waited, err3 = in.MetricByInstance(ctx, service, mesh.MetricCatchUpWait, map[string]string{"consumer": c})
		return r, cmpOr(err1, cmpOr(err2, err3))
	}
	return Check{
		Name: name,
		Before: func(ctx context.Context, in *Inspect) (any, error) {
			out := map[string]reading{}
			var first error
			for _, c := range consumers {
				v, err := read(ctx, in, c)
				out[c] = v
				first = cmpOr(first, err)
			}
			return out, first
		},
		After: func(ctx context.Context, in *Inspect, before any) check.Result {
			b, _ := before.(map[string]reading)
			handled, paced, waited, backlog := map[string]float64{}, map[string]float64{}, map[string]float64{}, map[string]float64{}
			err := in.Eventually(ctx, limit, func() error {
				for _, c := range consumers {
					var err error
					if backlog[c], err = in.Backlog(ctx, service, c); err != nil {
						return err
					}
					if backlog[c] > 0 {
						return fmt.Errorf("consumer %s of %s still has %.0f messages to handle", c, service, backlog[c])
					}
				}
				return nil
			})
			// The counters once, after the wait: what each consumer did in
			// the scenario, caught up or not.
			for _, c := range consumers {
				a, rerr := read(ctx, in, c)
				err = cmpOr(err, rerr)
				handled[c] = increase(b[c].handled, a.handled)
				paced[c] = increase(b[c].paced, a.paced)
				waited[c] = increase(b[c].waited, a.waited)
			}
			var parts []string
			idle, unpaced := []string{}, []string{}
			for _, c := range consumers {
				parts = append(parts, fmt.Sprintf("%s handled %.0f (%.0f while behind, waiting %.1fs on the catch-up pace), backlog %.0f",
					c, handled[c], paced[c], waited[c], backlog[c]))
				switch {
				case handled[c] == 0:
					idle = append(idle, c)
				case atPace && handled[c] >= minCatchUp && paced[c] == 0:
					unpaced = append(unpaced, c)
				}
			}
			sort.Strings(idle)
			sort.Strings(unpaced)
			summary := service + ": " + strings.Join(parts, "; ")
			r := check.Result{Verdict: check.Valid, Summary: summary}
			switch {
			case err != nil && strings.Contains(err.Error(), "metrics of"):
				r.Verdict, r.Summary = check.Unknown, "cannot read the consumers' metrics: "+err.Error()
			case err != nil:
				r = in.unlessInherited(check.Result{Verdict: check.Invalid,
					Summary: fmt.Sprintf("deferred work did not catch up within %v: %v; %s", limit, err, summary)})
			case len(b) == 0:
				r.Verdict, r.Summary = check.Unknown, "no baseline was read before the faults; "+summary
			case len(idle) > 0:
				r.Verdict, r.Summary = check.Invalid, "consumers handled nothing during the scenario ("+strings.Join(idle, ", ")+"): "+summary
			case len(unpaced) > 0:
				r.Verdict, r.Summary = check.Invalid, "deferred work caught up unpaced, its whole backlog at once ("+strings.Join(unpaced, ", ")+"): "+summary
			}
			return r
		},
	}
}

// minCatchUp is how many messages a stopped consumer must have handled in a
// scenario for CaughtUpAtPace to expect some under the pace.
const minCatchUp = 64

// faultSpan is when the scenario's faults were on: from the first injection
// to the last recovery, as the history records them.
func faultSpan(evs []history.Event) (from, to time.Duration, ok bool) {
	for _, e := range evs {
		switch e.Kind {
		case history.FaultInjected:
			if !ok || e.At < from {
				from = e.At
			}
			ok = true
		case history.FaultRecovered:
			to = max(to, e.At)
		}
	}
	return from, max(from, to), ok
}

// faultedOps returns journey's attempts (superseded ones included) sent
// while the scenario's faults were on, and that span; ok is false when no
// fault was injected.
func faultedOps(in *Inspect, journey string) (ops []history.Op, from, to time.Duration, ok bool) {
	if from, to, ok = faultSpan(in.Events()); !ok {
		return nil, 0, 0, false
	}
	for _, o := range in.Ops() {
		if o.Journey == journey && o.Start >= from && o.Start < to {
			ops = append(ops, o)
		}
	}
	return ops, from, to, true
}

// FailsWhileFaulted is a check, from the history, that at least min
// attempts of journey sent while the faults were on did not succeed: the
// fault really reached the journey it is said to break. It counts every
// attempt, the ones the client gave up on and sent again included: a
// customer whose retry after the fault succeeded still met the fault.
func FailsWhileFaulted(name, journey string, min int) Check {
	return Check{
		Name: name,
		After: func(ctx context.Context, in *Inspect, _ any) check.Result {
			ops, from, to, ok := faultedOps(in, journey)
			if !ok {
				return check.Result{Verdict: check.Unknown, Summary: "no fault was injected"}
			}
			sent, failed := 0, 0
			for _, o := range ops {
				sent++
				if o.Outcome != history.OK {
					failed++
				}
			}
			r := check.Result{Journey: journey, Verdict: check.Valid,
				Summary: fmt.Sprintf("%d of %d %s attempts failed while the faults were on (%v-%v)", failed, sent, journey, from.Round(time.Millisecond), to.Round(time.Millisecond))}
			switch {
			case sent == 0:
				r.Verdict = check.Unknown
			case failed < min:
				r.Verdict, r.Summary = check.Invalid, fmt.Sprintf("the fault did not reach %s: %s, fewer than %d", journey, r.Summary, min)
			}
			return r
		},
	}
}

// AnsweredWithin is a check, from the history, that every request of
// journey that started while the faults were on got an HTTP answer, success
// or failure (a 503 or 504 is an answer), within bound: a journey that must
// "fail fast" fails within its callers' deadlines instead of hanging.
//
// An attempt the client cut off only because the customer's patience ran
// out (its last try, begun late, lasted less than the client's own
// per-attempt timeout) says nothing about the bank: the bank still had time
// to answer it. An attempt that ran into the per-attempt timeout did go
// unanswered.
func AnsweredWithin(name, journey string, bound time.Duration) Check {
	return Check{
		Name: name,
		After: func(ctx context.Context, in *Inspect, _ any) check.Result {
			ops, _, _, ok := faultedOps(in, journey)
			if !ok {
				return check.Result{Verdict: check.Unknown, Summary: "no fault was injected"}
			}
			perTry := time.Duration(0)
			if j, ok := load.LookupJourney(journey); ok {
				perTry = j.Client().Timeout
			}
			return judgeAnswered(journey, ops, lastTries(in.Ops(), journey), bound, perTry)
		},
	}
}

// judgeAnswered is AnsweredWithin's rule over the attempts sent while the
// faults were on (tried: when each key's latest superseded attempt ended;
// perTry: the client's own per-attempt timeout).
func judgeAnswered(journey string, ops []history.Op, tried map[string]time.Duration, bound, perTry time.Duration) check.Result {
	r := check.Result{Journey: journey, Window: check.During, Verdict: check.Valid}
	n, failed, hung, unansweredN, impatient := 0, 0, 0, 0, 0
	var slowest time.Duration
	for _, o := range ops {
		n++
		if o.Outcome != history.OK {
			failed++
		}
		slowest = max(slowest, o.Latency)
		unanswered := o.Status == 0 && o.Outcome != history.OK
		if unanswered && !o.Superseded && perTry > 0 {
			// The final try began when the last superseded one ended (and
			// its back-off passed).
			last := o.Latency
			if end, ok := tried[o.Key]; ok && o.Key != "" && end > o.Start {
				last = o.End() - end
			}
			if last < perTry {
				unanswered = false
				impatient++
			}
		}
		if o.Latency > bound || unanswered {
			hung++
			if unanswered {
				unansweredN++
			}
			if len(r.Examples) < check.MaxExamples {
				r.Examples = append(r.Examples, check.DescribeOp(o))
			}
		}
	}
	r.Summary = fmt.Sprintf("%d %s requests (attempts) while the faults were on: %d not ok, %d unanswered or slower than %v, slowest %v",
		n, journey, failed, hung, bound, slowest.Round(time.Millisecond))
	if impatient > 0 {
		r.Summary += fmt.Sprintf("; %d last tries cut off by the customer's patience before the bank's time was up", impatient)
	}
	switch {
	case n == 0:
		r.Verdict = check.Unknown
	case hung > 0 && unansweredN == 0:
		r.Verdict, r.Summary = check.Invalid, lateAnswers+r.Summary
	case hung > 0:
		r.Verdict, r.Summary = check.Invalid, "not answered within the deadline: "+r.Summary
	}
	return r
}

// lateAnswers begins the summary of an AnsweredWithin miss in which every
// request was answered, some after the bound: a latency miss, which the
// host check may put down to a busy host (a request left unanswered it
// may not).
const lateAnswers = "answered, but later than the deadline: "

// lastTries maps each key of journey to when its latest superseded
// attempt ended.
func lastTries(ops []history.Op, journey string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, o := range ops {
		if o.Journey == journey && o.Superseded && o.Key != "" {
			out[o.Key] = max(out[o.Key], o.End())
		}
	}
	return out
}

func formatLabels(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	var kv []string
	for k, v := range labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return "{" + strings.Join(kv, ",") + "}"
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
