// Package history is a run's append-only record, in the manner of Jepsen:
// every request the load sent (an Op, with its outcome ok / fail / unknown)
// and every fault, platform and phase event, in one timeline. Checkers and
// reports read only the history; nothing reads the live system through it.
//
// A History is safe for concurrent use. It keeps everything in memory for
// the checkers and streams it to JSON lines in the run folder as it goes.
package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Outcome of an operation, as the client saw it.
type Outcome string

// Outcomes: ok (it happened as asked, or was refused for a business reason
// such as insufficient funds), fail (it definitely did not happen), unknown
// (no answer: it may or may not have happened).
const (
	OK      Outcome = "ok"
	Fail    Outcome = "fail"
	Unknown Outcome = "unknown"
)

// Op is one request of the load.
type Op struct {
	Scenario string        `json:"s"`
	Journey  string        `json:"j"`
	Start    time.Duration `json:"t"`   // since the run started
	Latency  time.Duration `json:"lat"` // as vegeta measured it, from the actual send
	Lag      time.Duration `json:"lag"` // actual send time minus planned send time
	Outcome  Outcome       `json:"o"`
	Status   int           `json:"st,omitempty"`
	Error    string        `json:"err,omitempty"`
	Key      string        `json:"k,omitempty"` // the idempotency key (card message id, payment ref)
	Result   string        `json:"r,omitempty"` // business result: response code or status
	Amount   int64         `json:"a,omitempty"`
	// Account is the account the request spends from (a card's, a
	// payment's payer), when it moves money.
	Account string `json:"acct,omitempty"`
	// Attempts is how many times the client sent this request before the
	// answer it kept (1 when it did not retry; 0 in older histories).
	Attempts int `json:"n,omitempty"`
	// Superseded marks an attempt the client gave up on and sent again (no
	// answer, a 5xx, a 429): the customer never saw it. SLO windows skip it
	// (the request is judged by its final answer, with the time it took in
	// all); the money checks include it, as an attempt whose effect is
	// unknown (applied at most once).
	Superseded bool `json:"sup,omitempty"`
}

// End is when the op completed.
func (o Op) End() time.Duration { return o.Start + o.Latency }

// Event is a fault, platform or phase event.
type Event struct {
	Scenario string        `json:"s"`
	At       time.Duration `json:"t"`
	Kind     string        `json:"kind"`
	Target   string        `json:"target,omitempty"`
	Detail   string        `json:"detail,omitempty"`
}

// Event kinds written by the harness (platform events keep their own kinds).
const (
	FaultInjected  = "fault-injected"
	FaultRecovered = "fault-recovered"
	Phase          = "phase"
	Settle         = "settle" // how long the bank took to be steady before a scenario's steady window
)

// History is a run's history.
type History struct {
	start time.Time

	mu     sync.Mutex
	ops    []Op
	events []Event
	opsW   *bufio.Writer
	evW    *bufio.Writer
	files  []*os.File
}

// New returns a history that starts now and is saved to dir (ops.jsonl and
// events.jsonl); an empty dir keeps it in memory only.
func New(dir string) (*History, error) {
	h := &History{start: time.Now()}
	if dir == "" {
		return h, nil
	}
	for _, name := range []string{"ops.jsonl", "events.jsonl"} {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		h.files = append(h.files, f)
	}
	h.opsW, h.evW = bufio.NewWriterSize(h.files[0], 1<<16), bufio.NewWriterSize(h.files[1], 1<<12)
	return h, nil
}

// Start is the run's time zero.
func (h *History) Start() time.Time { return h.start }

// Since returns t as an offset from the run's start.
func (h *History) Since(t time.Time) time.Duration { return t.Sub(h.start) }

// Now returns the current offset from the run's start.
func (h *History) Now() time.Duration { return time.Since(h.start) }

// AddOp appends an op.
func (h *History) AddOp(o Op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, o)
	if h.opsW != nil {
		b, _ := json.Marshal(o)
		_, _ = h.opsW.Write(append(b, '\n'))
	}
}

// AddEvent appends an event.
func (h *History) AddEvent(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
	if h.evW != nil {
		b, _ := json.Marshal(e)
		_, _ = h.evW.Write(append(b, '\n'))
		_ = h.evW.Flush()
	}
}

// Ops returns the ops of scenario ("" for all), in the order they completed.
func (h *History) Ops(scenario string) []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return of(h.ops, scenario, func(o Op) string { return o.Scenario })
}

// recentSlack is how far out of order ops may be appended: an op is
// added when it completes, so they are in the order of their ends to
// within the scheduling of the goroutines that add them.
const recentSlack = time.Second

// Recent returns the ops of scenario ("" for all) that ended at since or
// later, in the order they completed. Unlike Ops it copies only the tail
// of the history, so that a wait that looks every fraction of a second
// does not copy a long run's whole history each time.
func (h *History) Recent(scenario string, since time.Duration) []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := len(h.ops)
	for i > 0 && h.ops[i-1].End() >= since-recentSlack {
		i--
	}
	var out []Op
	for _, o := range h.ops[i:] {
		if o.End() >= since && (scenario == "" || o.Scenario == scenario) {
			out = append(out, o)
		}
	}
	return out
}

// Events returns the events of scenario ("" for all).
func (h *History) Events(scenario string) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return of(h.events, scenario, func(e Event) string { return e.Scenario })
}

// of returns a copy of the items of scenario ("" for all).
func of[T any](items []T, scenario string, name func(T) string) []T {
	var out []T
	for _, it := range items {
		if scenario == "" || name(it) == scenario {
			out = append(out, it)
		}
	}
	return out
}

// Close flushes and closes the files.
func (h *History) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	if h.opsW != nil {
		errs = append(errs, h.opsW.Flush(), h.evW.Flush())
	}
	for _, f := range h.files {
		errs = append(errs, f.Close())
	}
	h.files, h.opsW, h.evW = nil, nil, nil
	return errors.Join(errs...)
}

// Load reads a saved history from dir.
func Load(dir string) ([]Op, []Event, error) {
	ops, err := readLines[Op](filepath.Join(dir, "ops.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	evs, err := readLines[Event](filepath.Join(dir, "events.jsonl"))
	return ops, evs, err
}

func readLines[T any](path string) ([]T, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var out []T
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}
