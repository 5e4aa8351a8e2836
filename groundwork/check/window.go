package check

import (
	"time"

	"github.com/faultline/faultline/groundwork/history"
)

// Window names of a scenario.
const (
	Steady = "steady" // before the first fault
	During = "during" // from the first injection to the last recovery
	After  = "after"  // the end of the time after the last recovery
)

// Window is a span of a scenario, as offsets from the run's start, and the
// rule that decides which requests belong to it (Contains).
type Window struct {
	Name     string        `json:"name"`
	From, To time.Duration `json:"-"`
	// Faults, when set, is when faults were on: from the moment the first
	// injection began to the moment the last recovery finished. A request
	// in flight at either edge belongs to the fault's window and to no
	// other (see Contains).
	Faults *Span `json:"-"`
}

// Span is a stretch of time, as offsets from the run's start.
type Span struct{ From, To time.Duration }

// Contains is the one rule that puts a request in a window. A request
// belongs to the window in which it started, except that a request in flight
// when a fault was injected or recovered (started before that edge and ended
// after it) belongs to the During window whatever its start: a connection a
// kill reset is the fault's doing, never the steady state's or the
// recovered bank's. Attempts the client superseded by sending the request
// again belong to no window: the request is judged by its final answer.
func (w Window) Contains(o history.Op) bool {
	if o.Superseded {
		return false
	}
	if f := w.Faults; f != nil && (straddles(o, f.From) || straddles(o, f.To)) {
		return w.Name == During
	}
	return o.Start >= w.From && o.Start < w.To
}

// straddles reports whether o was in flight at t.
func straddles(o history.Op, t time.Duration) bool { return o.Start < t && o.End() > t }

// Windows are a scenario's three windows.
type Windows struct{ Steady, During, After Window }

// Cut cuts a scenario's windows: steady from start to the first injection,
// during from the first injection to the last recovery, after from the last
// recovery (or half the planned time after, whichever is later) to end.
// With no faults, during is empty at the end of steady.
func Cut(start, steadyEnd, end time.Duration, faults *Span, afterLen time.Duration) Windows {
	f := Span{From: steadyEnd, To: steadyEnd}
	if faults != nil {
		f = *faults
	}
	return Windows{
		Steady: Window{Name: Steady, From: start, To: f.From, Faults: &f},
		During: Window{Name: During, From: f.From, To: max(f.From, f.To), Faults: &f},
		After:  Window{Name: After, From: max(f.To, end-afterLen/2), To: end, Faults: &f},
	}
}

// All returns the windows in order.
func (ws Windows) All() []Window { return []Window{ws.Steady, ws.During, ws.After} }
