package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/system/feed"
)

// FeedsLimit bounds the wait for the feeds to show every approval.
const FeedsLimit = 30 * time.Second

// FeedsCaughtUp is a check's After (the baseline is not used): every card
// payment approved during the scenario reaches its customer's feed, read
// through edge as the app reads it, within FeedsLimit: deferred work
// (enrichment, feed generation) lost nothing. A feed keeps its newest
// feed.MaxItems items, so an approval that started before the item that
// arrived first in a full feed may have been pushed out: it is not
// expected (the summary counts them).
func FeedsCaughtUp(ctx context.Context, in *Inspect, _ any) check.Result {
	want := map[string]history.Op{} // ledger keys of approved authorisations
	for _, o := range in.Ops() {
		if o.Journey == "card-auth" && o.Outcome == history.OK && o.Result == "00" && o.Key != "" {
			want["auth:"+o.Key] = o
		}
	}
	seen, pushed := 0, 0
	err := in.Eventually(ctx, FeedsLimit, func() error {
		found := map[string]bool{}
		oldest := map[string]time.Duration{} // account -> its full feed's first-arrived item, as a history offset
		for _, c := range in.Data().Customers {
			var f feed.Feed
			if err := in.AsCustomer(ctx, c, "/v1/feed", &f); err != nil {
				return err
			}
			for _, it := range f.Items {
				found[it.Key] = true
			}
			if n := len(f.Items); n >= feed.MaxItems {
				// Items are kept in the order they arrived, newest first: the
				// last arrived before every other, so what is older than it
				// may have been pushed out. (The oldest time among the items
				// would be stricter: a late redelivery arrives at the head
				// with an old time, after approvals that were pushed out.)
				first := in.s.hist.Since(f.Items[n-1].Time)
				for _, it := range f.Items {
					oldest[it.Account] = first
				}
			}
		}
		seen, pushed = 0, 0
		for k, o := range want {
			switch at, full := oldest[o.Account]; {
			case found[k]:
				seen++
			case full && o.Start < at:
				pushed++
			}
		}
		if seen+pushed < len(want) {
			return fmt.Errorf("%d of %d approved authorisations in the feeds (%d more pushed out of full feeds)", seen, len(want), pushed)
		}
		return nil
	})
	r := check.Result{Verdict: check.Valid, Summary: fmt.Sprintf("all %d approved authorisations of this scenario reached the feeds", len(want))}
	if pushed > 0 {
		r.Summary += fmt.Sprintf(" (%d of them older than a full feed's %d items, not looked for)", pushed, feed.MaxItems)
	}
	if err != nil {
		r.Verdict, r.Summary = check.Invalid, fmt.Sprintf("deferred work did not catch up within %v: %v", FeedsLimit, err)
	}
	return in.unlessInherited(r)
}
