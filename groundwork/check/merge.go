package check

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Safely runs one checker. A checker that panics yields unknown for itself,
// with the panic as its reason, instead of taking the whole run (and its
// results) down with it.
func Safely(name string, f func() Result) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			stack := strings.Split(string(debug.Stack()), "\n")
			r = Result{Check: name, Verdict: Unknown, Summary: fmt.Sprintf("checker failed: %v", p),
				Examples: stack[min(len(stack), 5):min(len(stack), 9)]}
		}
	}()
	return f()
}

// Counts reports whether r's verdict decides the scenario's. Every check
// counts, except an unknown that only says a window was too thin to judge
// for a journey the scenario did not promise anything about (marked
// Informational by its maker).
func (r Result) Counts() bool { return r.Verdict != Unknown || !r.Informational }

// Merge is the one rule that turns a scenario's checks into its verdict:
// invalid if any check is invalid; otherwise unknown if any check that
// counts is unknown; otherwise valid.
func Merge(rs []Result) Verdict {
	v := Valid
	for _, r := range rs {
		switch {
		case r.Verdict == Invalid:
			return Invalid
		case r.Verdict == Unknown && r.Counts():
			v = Unknown
		}
	}
	return v
}
