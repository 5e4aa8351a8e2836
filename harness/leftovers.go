package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/topology"
)

// leftovers checks that nothing is still injected: no journal entry, no
// toxic on any link, no admin fault on any instance.
func (s *suite) leftovers() check.Result {
	r := check.Result{Check: "leftovers", Verdict: check.Valid, Summary: "nothing left injected"}
	bad := func(format string, args ...any) {
		r.Verdict = check.Invalid
		r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
	}
	active, err := s.journal.Active()
	if err != nil {
		bad("journal unreadable: %v", err)
	}
	for _, e := range active {
		bad("journal still holds %s fault %s on %s", e.Kind, e.ID, e.Target)
	}
	var links []platform.Link
	if ls, ok := s.plat.(platform.Links); ok {
		links = ls.Links("", "")
	}
	for _, l := range links {
		if t := l.Toxics(); len(t) > 0 {
			bad("link %s->%s still has toxics %v", l.From().Name, l.To().Name, t)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, in := range s.plat.Instances("") {
		if in.Service == topology.Store {
			continue
		}
		ep, err := platform.As[platform.Endpoints](s.plat, "looking for admin faults")
		var addr string
		if err == nil {
			addr, err = ep.AdminEndpoint(ctx, in.Name)
		}
		if err != nil {
			continue // not reachable right now; it restarts with no faults
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url(addr, "/admin/faults"), nil)
		resp, err := s.http().Do(platform.Authorize(req, ep))
		if err != nil {
			continue // not running right now; it restarts with no faults
		}
		var list []json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if len(list) > 0 {
			bad("%s still has %d admin faults", in.Name, len(list))
		}
	}
	if r.Verdict == check.Invalid {
		r.Summary = fmt.Sprintf("%d faults left injected", len(r.Examples))
	}
	return r
}
