package scenarios

import (
	"testing"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/system/mesh"
)

func TestEveryTier3ServiceDown(t *testing.T) {
	var steps []harness.Step
	for _, s := range []string{"emoji", "profile", "merchant", "transaction-enrichment", "notifications"} {
		steps = append(steps, harness.Step{At: 0, For: 10 * time.Second, Fault: &faults.Pause{Target: faults.All(s)}})
	}
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: freeze every instance of every tier 3 service (emoji, profile, merchant,
transaction-enrichment, notifications) for 10s.
Expect (tier contract): no tier 0-1 journey moves — card payments, payments,
freezes, balance and support hold their steady-state SLO; tier 3 journeys fail
fast and recover; enrichment catches up afterwards, at its pace (no faster than
1.5 times the rate its backlog was written).`,
		Faults: steps,
		Checks: []harness.Check{
			// edge gives each call 1s; the app tries up to three times.
			harness.AnsweredWithin("emoji-fails-fast", "emoji", tier3Bound),
			harness.AnsweredWithin("profile-fails-fast", "profile", tier3Bound),
			harness.AnsweredWithin("logos-fail-fast", "merchant-logos", tier3Bound),
			harness.CaughtUpAtPace("enrichment-caught-up", "transaction-enrichment", 30*time.Second, "enrichment"),
		},
	})
}

// tier3Bound is how long a tier 3 journey may take to fail while its
// service is frozen: edge gives each call DefaultCallTimeout, and the app
// tries up to three times with short backoffs.
const tier3Bound = 3*mesh.DefaultCallTimeout + time.Second

func TestDeferredWorkCatchesUp(t *testing.T) {
	var steps []harness.Step
	for _, s := range []string{"transaction-enrichment", "feed-generator", "notifications"} {
		steps = append(steps, harness.Step{At: 0, For: 10 * time.Second, Fault: &faults.Pause{Target: faults.All(s)}})
	}
	harness.Run(t, harness.Scenario{
		Runbook: `Fault: freeze the deferred workers (transaction-enrichment, feed-generator,
notifications) for 10s while card payments and transfers go on.
Expect: card payments and payments do not notice (nothing deferred is on their
path); when the workers come back the queues drain, at their pace, and every
customer's feed shows their newest approved card payment.`,
		Faults: steps,
		Hold:   []string{"card-auth", "payments"},
		Checks: []harness.Check{
			{Name: "feed-caught-up", After: harness.FeedsCaughtUp},
			harness.CaughtUpAtPace("enrichment-caught-up", "transaction-enrichment", 30*time.Second, "enrichment"),
			harness.CaughtUp("feed-generator-caught-up", "feed-generator", 30*time.Second, "feed-generator"),
			harness.CaughtUp("notifications-caught-up", "notifications", 30*time.Second, "notifications"),
		},
	})
}
