package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/system/cardapi"
)

// Defaults of an attack: bounded workers and connections, so the generator
// never runs out of file descriptors. How long a request may take is the
// journey's Client's to say.
const (
	DefaultWorkers      = 8
	DefaultMaxWorkers   = 256
	DefaultConnections  = 64
	DefaultMaxBody      = 2048
	DefaultMinSentRatio = 0.99
	DefaultMaxLag       = 30 * time.Millisecond // a send later than this is lagged (10% of the steady p99 bound)
)

// Plan is the traffic of one journey during one attack.
type Plan struct {
	Journey  string
	Rate     float64       // requests per second at the start
	RampTo   float64       // if > 0, the rate rises linearly to this by the end
	Duration time.Duration // how long to attack
}

// Validate checks a plan.
func (p Plan) Validate() error {
	if _, ok := LookupJourney(p.Journey); !ok {
		return fmt.Errorf("unknown journey %q", p.Journey)
	}
	if p.Rate <= 0 || p.Rate > 20000 || p.RampTo < 0 || p.RampTo > 20000 {
		return fmt.Errorf("journey %s: rate must be in (0, 20000] per second, got %v (ramp to %v)", p.Journey, p.Rate, p.RampTo)
	}
	if p.Duration <= 0 {
		return fmt.Errorf("journey %s: duration must be positive", p.Journey)
	}
	return nil
}

func (p Plan) pacer() vegeta.Pacer {
	if p.RampTo > 0 {
		return vegeta.LinearPacer{StartAt: vegeta.Rate{Freq: int(p.Rate * 1000), Per: 1000 * time.Second},
			Slope: (p.RampTo - p.Rate) / p.Duration.Seconds()}
	}
	return vegeta.Rate{Freq: int(p.Rate * 1000), Per: 1000 * time.Second}
}

// Stats says how faithfully a journey's load was delivered.
type Stats struct {
	Journey    string        `json:"journey"`
	Asked      float64       `json:"asked"` // requests the plan asked for
	Sent       int           `json:"sent"`
	SentRatio  float64       `json:"sent_ratio"`
	LagP99     time.Duration `json:"lag_p99"`
	LagMax     time.Duration `json:"lag_max"`
	Lagged     int           `json:"lagged"`     // sends later than DefaultMaxLag
	Underdrive bool          `json:"underdrive"` // sent under 99% of asked
}

// Attack runs every plan at once (one vegeta attacker each) until they end
// or ctx is done, recording each result as an op of scenario in h. It blocks.
func Attack(ctx context.Context, h *history.History, scenario string, g *Gen, plans []Plan) ([]Stats, error) {
	for _, p := range plans {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	out := make([]Stats, len(plans))
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = attackOne(ctx, h, scenario, g, p)
		}()
	}
	wg.Wait()
	return out, nil
}

func attackOne(ctx context.Context, h *history.History, scenario string, g *Gen, p Plan) Stats {
	j, _ := LookupJourney(p.Journey)
	return attackJourney(ctx, h, scenario, g, p, j)
}

func attackJourney(ctx context.Context, h *history.History, scenario string, g *Gen, p Plan, j Journey) Stats {
	var inflight sync.Map // request id -> pending
	var seq atomic.Uint64
	targeter := func(t *vegeta.Target) error {
		g.mu.Lock()
		r := j.build(g)
		g.mu.Unlock()
		id := fmt.Sprintf("%s-%s-%d", scenario, p.Journey, seq.Add(1))
		t.Method, t.URL = r.method, r.url
		t.Header = http.Header{"X-Request-Id": {id}}
		if r.body != nil {
			t.Body, _ = json.Marshal(r.body)
			t.Header.Set("Content-Type", "application/json")
		}
		if r.signed {
			t.Header.Set(cardapi.HeaderMAC, cardapi.Sign(g.ingress.CardKey, t.Body))
		}
		if r.token != "" {
			t.Header.Set("Authorization", "Bearer "+r.token)
		}
		if r.key != "" {
			t.Header.Set("Idempotency-Key", r.key)
		}
		inflight.Store(id, &pending{req: r})
		return nil
	}
	rt := &clientTransport{next: &http.Transport{MaxIdleConnsPerHost: DefaultConnections, MaxConnsPerHost: DefaultMaxWorkers,
		IdleConnTimeout: 30 * time.Second, DisableCompression: true, TLSClientConfig: g.ingress.sessions(), TLSHandshakeTimeout: 2 * time.Second},
		client: j.client, journey: p.Journey, inflight: &inflight, since: h.Since,
		record: func(o history.Op) { o.Scenario = scenario; h.AddOp(o) }}
	defer rt.next.CloseIdleConnections()
	atk := vegeta.NewAttacker(vegeta.Workers(DefaultWorkers), vegeta.MaxWorkers(DefaultMaxWorkers),
		vegeta.Client(&http.Client{Transport: rt, Timeout: j.client.Patience + time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}),
		vegeta.MaxBody(DefaultMaxBody))
	pacer := p.pacer()
	began := time.Now()
	results := atk.Attack(targeter, pacer, p.Duration, p.Journey)
	// Sending ends when the context does (or the plan's duration is up);
	// what was asked is counted up to then, not up to when the last
	// answer came back.
	var stoppedAt atomic.Int64
	stop := context.AfterFunc(ctx, func() { stoppedAt.Store(int64(time.Since(began))); atk.Stop() })
	defer stop()
	var lags []time.Duration
	for res := range results {
		lag := res.Timestamp.Sub(began.Add(planned(pacer, res.Seq, p.Duration)))
		lags = append(lags, max(0, lag))
		o, result := j.classify(res)
		op := history.Op{Scenario: scenario, Journey: p.Journey, Start: h.Since(res.Timestamp), Latency: res.Latency,
			Lag: max(0, lag), Outcome: o, Status: int(res.Code), Error: res.Error, Result: result}
		if v, ok := inflight.LoadAndDelete(rt.requestID(res.Seq)); ok {
			pd := v.(*pending)
			op.Key, op.Amount, op.Account, op.Attempts = pd.req.idemKey, pd.req.amount, pd.req.account, pd.attempts
		}
		h.AddOp(op)
	}
	ran := time.Since(began)
	if at := stoppedAt.Load(); at > 0 {
		ran = time.Duration(at)
	}
	return stats(p, len(lags), lags, ran)
}

// planned returns when the pacer meant to send hit seq: the earliest offset
// at which it would send no later than now, found by bisection.
func planned(p vegeta.Pacer, seq uint64, limit time.Duration) time.Duration {
	lo, hi := time.Duration(0), limit
	for hi-lo > 50*time.Microsecond {
		mid := (lo + hi) / 2
		if wait, _ := p.Pace(mid, seq); wait <= 0 {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// stats compares what was sent with what the plan asked for in the time the
// attack was sending (it may be stopped before its planned duration).
func stats(p Plan, sent int, lags []time.Duration, ran time.Duration) Stats {
	d := min(ran, p.Duration).Seconds()
	asked := p.Rate * d
	if p.RampTo > 0 {
		slope := (p.RampTo - p.Rate) / p.Duration.Seconds()
		asked = p.Rate*d + slope*d*d/2
	}
	// The last interval may not have come round yet when the attack stops.
	asked = max(0, asked-1)
	s := Stats{Journey: p.Journey, Asked: asked, Sent: sent}
	if asked > 0 {
		s.SentRatio = float64(sent) / asked
	}
	s.Underdrive = s.SentRatio < DefaultMinSentRatio
	if len(lags) > 0 {
		sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
		s.LagP99 = check.Quantile(lags, 0.99) // the checks' percentile, so figures compare
		s.LagMax = lags[len(lags)-1]
		s.Lagged = len(lags) - sort.Search(len(lags), func(i int) bool { return lags[i] > DefaultMaxLag })
	}
	return s
}

// String summarises s for progress lines.
func (s Stats) String() string {
	return s.Journey + ": sent " + strconv.Itoa(s.Sent) + fmt.Sprintf(" of %.0f (%.1f%%), send lag p99 %v", s.Asked, 100*s.SentRatio, s.LagP99.Round(time.Microsecond))
}
