package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/load"
)

func TestBadScenariosAreRejectedBeforeAnythingRuns(t *testing.T) {
	kill := &faults.Kill{Target: faults.One("card-processing")}
	cases := map[string]struct {
		sc   Scenario
		want string
	}{
		"unknown service":                      {Scenario{Faults: []Step{{For: time.Second, Fault: &faults.Kill{Target: faults.One("no-such-service")}}}}, `unknown service "no-such-service"`},
		"unknown link end":                     {Scenario{Faults: []Step{{For: time.Second, Fault: faults.Latency("edge", "nowhere", time.Millisecond, 0)}}}, `unknown service or instance "nowhere"`},
		"negative rate":                        {Scenario{Faults: []Step{{For: time.Second, Fault: kill}}, Load: map[string]float64{"card-auth": -5}}, "rate -5 must be in"},
		"unknown journey":                      {Scenario{Faults: []Step{{For: time.Second, Fault: kill}}, Load: map[string]float64{"teleport": 5}}, `unknown journey "teleport"`},
		"no recovery time":                     {Scenario{Faults: []Step{{Fault: kill}}}, "no recovery time"},
		"negative start":                       {Scenario{Faults: []Step{{At: -time.Second, For: time.Second, Fault: kill}}}, "negative start"},
		"no faults":                            {Scenario{}, "no faults"},
		"bad hold SLO":                         {Scenario{Faults: []Step{{For: time.Second, Fault: kill}}, HoldSLO: map[string]check.SLO{"card-auth": {MinSuccess: 2, P99: time.Second}}}, "min success 2"},
		"recovery window longer than a minute": {Scenario{Faults: []Step{{For: time.Second, Fault: kill}}, MaxRecovery: time.Hour}, "longer than a minute"},
		"window longer than the run":           {Scenario{Steady: time.Second, After: time.Second, Faults: []Step{{For: time.Second, Fault: kill}}, MaxRecovery: 50 * time.Second}, "longer than the time after the faults"},
		"bad ramp":                             {Scenario{Faults: []Step{{For: time.Second, Fault: kill}}, RampTo: map[string]float64{"card-auth": -1}}, "target rate -1"},
		"flap too fast":                        {Scenario{Faults: []Step{{For: time.Second, Fault: &faults.Flap{Target: faults.One("balance"), Every: time.Millisecond}}}}, "at least 100ms"},
		"bad http status":                      {Scenario{Faults: []Step{{For: time.Second, Fault: &faults.HTTPFault{Target: faults.All("cards"), Route: "/", ErrorRate: 0.5, Status: 200}}}}, "status 200 is not an error"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			c.sc.defaults(1)
			err := c.sc.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestGoodScenarioIsAccepted(t *testing.T) {
	sc := Scenario{Faults: []Step{{At: time.Second, For: 5 * time.Second, Fault: faults.Partition("card-processing", "balance", true)}}, Hold: []string{"card-auth"}}
	sc.defaults(0.5)
	require.NoError(t, sc.Validate())
	assert.Equal(t, DefaultSteady/2+3*time.Second+DefaultAfter/2, sc.Duration())
}

func TestFaultTier(t *testing.T) {
	sc := Scenario{Faults: []Step{{For: time.Second, Fault: &faults.Pause{Target: faults.All("emoji")}}}}
	tier, known := sc.faultTier()
	assert.True(t, known)
	assert.Equal(t, 3, tier)
	sc.Faults = append(sc.Faults, Step{For: time.Second, Fault: faults.KillStoreNode(1)})
	tier, _ = sc.faultTier()
	assert.Equal(t, 0, tier)
}

func TestPaymentsHaveTheirOwnSteadyP99(t *testing.T) {
	sc := &Scenario{Hold: []string{"payments", "card-auth"}}
	p := plan(sc, 0, 10*time.Second, nil, nil, []load.Stats{{Journey: "payments"}, {Journey: "card-auth"}})
	got := map[string]time.Duration{}
	for _, o := range p.Objectives {
		if o.Window == check.Steady {
			got[o.Journey] = o.SLO.P99
		}
	}
	if got["payments"] != 500*time.Millisecond || got["card-auth"] != 300*time.Millisecond {
		t.Fatalf("steady p99s: %v, want payments 500ms and card-auth 300ms", got)
	}
}

// TestSlowRecoveriesKeepTheLoadRunning: a scenario whose fault may take
// longer to recover than MaxOverrun (a rollout) keeps its load and its
// end open that long, and the after window past it; others keep
// MaxOverrun.
func TestSlowRecoveriesKeepTheLoadRunning(t *testing.T) {
	roll := &faults.RollingRestart{Of: []string{"card-api", "card-processing", "cards", "balance", "transactions"}}
	sc := Scenario{After: 12 * time.Second, Faults: []Step{{Fault: roll}}}
	assert.Equal(t, roll.RecoveryLimit()+12*time.Second, sc.overrun())
	assert.Greater(t, sc.overrun(), MaxOverrun)
	quick := Scenario{After: 12 * time.Second, Faults: []Step{{Fault: &faults.Kill{Target: faults.One("cards")}}}}
	assert.Equal(t, MaxOverrun, quick.overrun())
}
