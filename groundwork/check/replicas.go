package check

import (
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/groundwork/platform"
)

// Replicas compares the store nodes' copies of stream, taken once writes
// have stopped: each must hold the same messages (count, first and last
// sequence, bytes). Copies that differ are a split store: nodes that would
// serve different ledgers. It is unknown when a node could not say what it
// holds (readErr), or fewer than two did.
func Replicas(stream string, states map[string]platform.StreamState, readErr error) Result {
	r := Result{Check: "replicas", Verdict: Valid}
	nodes := make([]string, 0, len(states))
	for n := range states {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	var parts []string
	for _, n := range nodes {
		s := states[n]
		parts = append(parts, fmt.Sprintf("%s: %d messages, seq %d-%d, %d bytes", n, s.Messages, s.FirstSeq, s.LastSeq, s.Bytes))
	}
	desc := strings.Join(parts, "; ")
	switch {
	case readErr != nil:
		r.Verdict, r.Summary = Unknown, fmt.Sprintf("not every node said what it holds of %s: %v (%s)", stream, readErr, desc)
	case len(nodes) < 2:
		r.Verdict, r.Summary = Unknown, fmt.Sprintf("fewer than two copies of %s to compare (%s)", stream, desc)
	default:
		for _, n := range nodes[1:] {
			if states[n] != states[nodes[0]] {
				r.Verdict, r.Summary = Invalid, fmt.Sprintf("the store nodes hold different copies of %s: %s", stream, desc)
				return r
			}
		}
		r.Summary = fmt.Sprintf("every node holds the same %s: %s", stream, desc)
	}
	return r
}
