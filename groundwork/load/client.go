package load

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/faultline/faultline/groundwork/history"
)

// Client is how a journey's real client behaves when a request gets no
// usable answer (the connection was cut or refused, the attempt timed out,
// or the bank answered 5xx or 429): it sends the same request again, with
// the same idempotency key or message ID, to an instance the load balancer
// picks afresh, until it has an answer, has tried Attempts times, or the
// customer's patience (Patience) runs out.
//
// The customer sees only the final answer, after the whole time it took;
// that is what the SLO windows judge. Every attempt goes into the history,
// the superseded ones marked so, and the money checks judge them all.
type Client struct {
	Attempts int           // tries in all, the first included
	Timeout  time.Duration // how long one attempt may take
	Backoff  time.Duration // the wait before the first retry, doubled for each later one
	Patience time.Duration // how long the customer waits in all
}

// The clients of the journeys (docs/VERDICTS.md says what each one does).
var (
	// CardNetwork is the card scheme: it resends a message the issuer did
	// not answer once, quickly, within its own deadline, and otherwise
	// stands in (declines) for the issuer.
	CardNetwork = Client{Attempts: 2, Timeout: 2 * time.Second, Backoff: 50 * time.Millisecond, Patience: 4500 * time.Millisecond}
	// App is the bank's mobile app: it retries a call whose connection was
	// cut, with the same Idempotency-Key, twice, backing off.
	App = Client{Attempts: 3, Timeout: 3 * time.Second, Backoff: 100 * time.Millisecond, Patience: 6 * time.Second}
)

// Validate checks a client's settings.
func (c Client) Validate() error {
	if c.Attempts < 1 || c.Timeout <= 0 || c.Backoff < 0 || c.Patience < c.Timeout {
		return errors.New("a client needs at least one attempt, a positive attempt timeout, and patience at least one attempt long")
	}
	return nil
}

// retriable reports whether an attempt's answer (or its absence) makes the
// client try again.
func retriable(status int, err error) bool {
	return err != nil || status >= 500 || status == http.StatusTooManyRequests
}

// clientTransport sends each request as the journey's client would,
// retrying it, and records superseded attempts into the history. It also
// remembers which request ID vegeta sent under each sequence number, so a
// result with no answer can still be tied to its request.
type clientTransport struct {
	next     *http.Transport
	client   Client
	record   func(o history.Op) // records a superseded attempt
	since    func(time.Time) time.Duration
	journey  string
	inflight *sync.Map // request ID -> *pending
	ids      sync.Map  // vegeta seq (string) -> X-Request-Id
}

// pending is a request vegeta has been handed and not yet reported.
type pending struct {
	req      request
	attempts int // set by the transport before vegeta's result is sent
}

func (t *clientTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	id := r.Header.Get("X-Request-Id")
	t.ids.Store(r.Header.Get("X-Vegeta-Seq"), id)
	var p *pending
	if v, ok := t.inflight.Load(id); ok {
		p = v.(*pending)
	}
	deadline := time.Now().Add(t.client.Patience)
	backoff := t.client.Backoff
	for n := 1; ; n++ {
		began := time.Now()
		attempt, err := t.attemptRequest(r, p, n)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(r.Context(), min(t.client.Timeout, time.Until(deadline)))
		resp, err := t.next.RoundTrip(attempt.WithContext(ctx))
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		last := n >= t.client.Attempts || time.Until(deadline) <= backoff || r.Context().Err() != nil
		if last || !retriable(status, err) {
			if p != nil {
				p.attempts = n
			}
			if resp != nil {
				resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			} else {
				cancel()
			}
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, DefaultMaxBody))
			resp.Body.Close()
		}
		cancel()
		t.supersede(p, began, status, err)
		select {
		case <-time.After(backoff):
		case <-r.Context().Done():
		}
		backoff *= 2
	}
}

// attemptRequest returns the request for attempt n: the original for the
// first, a copy with its body rewound and a freshly picked instance after.
func (t *clientTransport) attemptRequest(r *http.Request, p *pending, n int) (*http.Request, error) {
	if n == 1 {
		return r, nil
	}
	a := r.Clone(r.Context())
	if r.GetBody != nil {
		b, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		a.Body = b
	}
	if p != nil && p.req.repick != nil {
		if u, err := url.Parse(p.req.repick()); err == nil {
			a.URL.Host, a.Host = u.Host, ""
		}
	}
	a.Header.Set("X-Request-Id", r.Header.Get("X-Request-Id")+"-"+strconv.Itoa(n))
	return a, nil
}

// supersede records an attempt the client is about to send again. Its
// effect is unknown to the client (even a 429 may hide an earlier try).
func (t *clientTransport) supersede(p *pending, began time.Time, status int, err error) {
	o := history.Op{Journey: t.journey, Start: t.since(began), Latency: time.Since(began), Outcome: history.Unknown,
		Status: status, Superseded: true}
	if err != nil {
		o.Error = err.Error()
	}
	if p != nil {
		o.Key, o.Amount, o.Account = p.req.idemKey, p.req.amount, p.req.account
	}
	t.record(o)
}

func (t *clientTransport) requestID(seq uint64) string {
	v, ok := t.ids.LoadAndDelete(strconv.FormatUint(seq, 10))
	if !ok {
		return ""
	}
	return v.(string)
}

// cancelOnClose ends an attempt's context once its body has been read.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
