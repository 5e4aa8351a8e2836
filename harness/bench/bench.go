// Package bench measures Faultline itself and the bank it runs: the load
// generator against bare vegeta, the sidecar hop, the latency toxic's
// accuracy, the mesh's start-to-ready time and memory, and the card
// authorisation path's capacity. `faultline bench` prints its figures;
// docs/PERFORMANCE.md records them.
//
// Every figure comes from a real run on this machine; nothing is assumed.
package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/load"
	"github.com/faultline/faultline/system/sidecar"
)

// Report is where figures go, one line each.
type Report func(format string, args ...any)

func trivialServer() (string, func()) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), func() { _ = srv.Close() }
}

// LoadRate compares the highest sustained open-loop rate of the harness's
// load path and of bare vegeta (default attacker, bounded workers) on the same
// trivial handler, at each rate for d.
func LoadRate(ctx context.Context, rates []float64, d time.Duration, out Report) {
	addr, stop := trivialServer()
	defer stop()
	h, _ := history.New("")
	bestH, bestV := 0.0, 0.0
	for _, r := range rates {
		hs := load.Raw(ctx, h, "http://"+addr+"/", r, d)
		vs := bareVegeta(addr, r, d)
		out("rate %6.0f/s: harness sent %5.1f%% (lag p99 %v); bare vegeta sent %5.1f%%", r, 100*hs.SentRatio, hs.LagP99, 100*vs)
		if hs.SentRatio >= 0.99 {
			bestH = r
		}
		if vs >= 0.99 {
			bestV = r
		}
	}
	ratio := 0.0
	if bestV > 0 {
		ratio = 100 * bestH / bestV
	}
	out("sustained open-loop rate: harness %.0f/s, bare vegeta %.0f/s (%.0f%%)", bestH, bestV, ratio)
}

func bareVegeta(addr string, rate float64, d time.Duration) float64 {
	atk := vegeta.NewAttacker(vegeta.MaxWorkers(load.DefaultMaxWorkers), vegeta.MaxBody(0))
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: "http://" + addr + "/"})
	n, ok := 0, 0
	for res := range atk.Attack(tr, vegeta.Rate{Freq: int(rate), Per: time.Second}, d, "bare") {
		n++
		if res.Code == 200 {
			ok++
		}
	}
	_ = ok
	return float64(n) / (rate * d.Seconds())
}

// latencies sends n sequential GETs to addr over one kept-alive connection.
func latencies(addr string, n int) []time.Duration {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	out := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		resp, err := c.Get("http://" + addr + "/")
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		out = append(out, time.Since(t0))
	}
	slices.Sort(out)
	return out
}

// SidecarHop measures what one toxiproxy sidecar adds to a request with no
// toxic (the local platform's, and a pod's on Kubernetes, whose proxies dial
// through a forwarder), and how exactly a latency toxic delays it.
func SidecarHop(n int, out Report) {
	addr, stop := trivialServer()
	defer stop()
	zerolog.SetGlobalLevel(zerolog.Disabled)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "bench", "127.0.0.1:0", addr)
	if err := srv.Collection.Add(p, true); err != nil {
		out("sidecar: %v", err)
		return
	}
	defer func() { _ = srv.Collection.Clear() }()
	latencies(addr, 200)
	latencies(p.Listen, 200) // warm up
	direct, proxied := latencies(addr, n), latencies(p.Listen, n)
	q := check.Quantile // the checks' percentile, so figures compare
	out("sidecar hop, no toxic (%d requests): direct p50 %v p99 %v; through sidecar p50 %v p99 %v; added p50 %v p99 %v",
		n, q(direct, .5), q(direct, .99), q(proxied, .5), q(proxied, .99), q(proxied, .5)-q(direct, .5), q(proxied, .99)-q(direct, .99))
	if pod, err := podSidecarHop(addr, n); err != nil {
		out("pod sidecar: %v", err)
	} else {
		out("pod sidecar hop (kind's: toxiproxy and its forwarder), no toxic (%d requests): p50 %v p99 %v; added over direct p50 %v p99 %v",
			n, q(pod, .5), q(pod, .99), q(pod, .5)-q(direct, .5), q(pod, .99)-q(direct, .99))
	}
	for _, ms := range []int{10, 100} {
		_, err := p.Toxics.AddToxicJson(strings.NewReader(fmt.Sprintf(`{"name":"lat","type":"latency","stream":"downstream","attributes":{"latency":%d}}`, ms)))
		if err != nil {
			out("latency toxic: %v", err)
			return
		}
		m := 200
		if ms >= 100 {
			m = 50
		}
		l := latencies(p.Listen, m)
		out("latency toxic %dms: measured p50 %v (+%v over the plain hop), p99 %v", ms, q(l, .5), q(l, .5)-q(proxied, .5), q(l, .99))
		_ = p.Toxics.RemoveToxic(context.Background(), "lat")
	}
}

// podSidecarHop runs the sidecar of a bank pod (system/sidecar) with one
// link to addr and returns the latencies of n requests through it.
func podSidecarHop(addr string, n int) ([]time.Duration, error) {
	api, listen := freeAddr(), freeAddr()
	link, err := sidecar.ParseLink("bench->callee=" + listen + "=" + addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sidecar.Run(ctx, api, []sidecar.Link{link}) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", listen)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
	latencies(listen, 200) // warm up
	return latencies(listen, n), nil
}

// freeAddr returns a loopback address with a port free at the time.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer ln.Close()
	return ln.Addr().String()
}
