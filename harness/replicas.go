package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/platform"
)

// ReplicasAgree is a check that, once the scenario's load has stopped,
// every store node holds the same copy of stream (check.Replicas): no node
// came back from a fault with a ledger of its own. Copies may take a
// moment to converge after the last write, so they are compared for up to
// 30 s. On a platform that cannot ask the nodes it is unknown and
// informational: the scenario's money checks stand without it.
func ReplicasAgree(stream string) Check {
	return Check{
		Name: "replicas",
		After: func(ctx context.Context, in *Inspect, _ any) check.Result {
			sr, err := platform.As[platform.StoreReplicas](in.s.plat, "comparing the store's replicas")
			if err != nil {
				return check.Result{Check: "replicas", Verdict: check.Unknown, Summary: err.Error(), Informational: true}
			}
			var r check.Result
			_ = in.Eventually(ctx, 30*time.Second, func() error {
				states, err := sr.StreamReplicas(ctx, stream)
				r = check.Replicas(stream, states, err)
				if r.Verdict != check.Valid {
					return errors.New(r.Summary)
				}
				return nil
			})
			if r.Verdict != check.Valid {
				r.Summary = fmt.Sprintf("after 30 s: %s", r.Summary)
			}
			return r
		},
	}
}
