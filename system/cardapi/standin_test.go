package cardapi

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/cards"
)

// TestDecideAlone: card-api standing in gives the answer the customer's
// data explains (approved, insufficient funds, a frozen card) from its
// copies, and "91" when it has no copy to go by or a cap forbids an
// approval.
func TestDecideAlone(t *testing.T) {
	req := cardprocessing.AuthRequest{MessageID: "m1", CardID: "c1", Amount: 40_00, Currency: "GBP"}
	card := cards.Card{ID: "c1", Account: "a1", Status: cards.Active}
	funded := balance.Balance{Account: "a1", Balance: 100_00, Limit: 50_00}
	cases := []struct {
		name      string
		req       cardprocessing.AuthRequest
		card      cards.Card
		cardOK    bool
		bal       balance.Balance
		balOK     bool
		onAccount int64
		code      string
	}{
		{"within funds", req, card, true, funded, true, 0, balance.CodeApproved},
		{"into the overdraft", req, card, true, balance.Balance{Account: "a1", Balance: 10_00, Limit: 50_00}, true, 0, balance.CodeApproved},
		{"past the overdraft", req, card, true, balance.Balance{Account: "a1", Balance: 10_00, Limit: 20_00}, true, 0, balance.CodeInsufficientFunds},
		{"past the funds with stand-ins taken", req, card, true, funded, true, 120_00, balance.CodeInsufficientFunds},
		{"frozen card", req, cards.Card{ID: "c1", Account: "a1", Status: cards.Frozen}, true, funded, true, 0, cardprocessing.CodeRestricted},
		{"no copy of the card", req, cards.Card{}, false, funded, true, 0, balance.CodeIssuerUnavailable},
		{"no copy of the balance", req, card, true, balance.Balance{}, false, 0, balance.CodeIssuerUnavailable},
		{"over the cap on one authorisation", cardprocessing.AuthRequest{MessageID: "m1", CardID: "c1", Amount: standInPerAuth + 1}, card, true,
			balance.Balance{Account: "a1", Balance: 1_000_00}, true, 0, balance.CodeIssuerUnavailable},
		{"over the cap on the account", req, card, true, balance.Balance{Account: "a1", Balance: 1_000_00}, true, StandInPerAccount - 30_00, balance.CodeIssuerUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decideAlone(c.req, c.card, c.cardOK, c.bal, c.balOK, c.onAccount)
			assert.Equal(t, c.code, got.Code)
			assert.Equal(t, c.code == balance.CodeApproved, got.Approved)
			assert.Contains(t, got.Reason, StandInReason)
			assert.Equal(t, "m1", got.MessageID)
		})
	}
}

// TestExposureIsCapped: a replica's stand-in approvals not yet forgotten
// stay within the caps per account and in all, and are forgotten
// standInHold after they were given.
func TestExposureIsCapped(t *testing.T) {
	var e exposure
	t0 := time.Now()
	require.True(t, e.take("a1", standInPerAuth, t0))
	require.True(t, e.take("a1", standInPerAuth, t0))
	require.True(t, e.take("a1", StandInPerAccount-2*standInPerAuth, t0))
	require.False(t, e.take("a1", 1, t0), "the account's cap is reached")
	require.True(t, e.take("a2", 1, t0), "another account's is not")
	require.False(t, e.take("a3", standInPerAuth+1, t0), "over the cap on one authorisation")
	on, total := e.pending("a1", t0)
	require.Equal(t, int64(StandInPerAccount), on)
	require.Equal(t, int64(StandInPerAccount+1), total)

	later := t0.Add(standInHold + time.Second)
	require.True(t, e.take("a1", standInPerAuth, later), "forgotten after standInHold")
	on, total = e.pending("a1", later)
	require.Equal(t, int64(standInPerAuth), on)
	require.Equal(t, int64(standInPerAuth), total)

	var full exposure
	for i := range standInTotal / standInPerAuth {
		require.True(t, full.take(string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)), standInPerAuth, t0))
	}
	require.False(t, full.take("zz-new", 1, t0), "the replica's total cap is reached")
}

// TestStandInMetrics: the answers given alone are counted by why and code,
// and the exposure gauge reads what the replica has not yet forgotten.
func TestStandInMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	var e exposure
	m := newStandInMetrics(reg, "card-api", &e)
	m.answered(whyNoAnswer, balance.CodeApproved)
	m.answered(whyNoAnswer, balance.CodeApproved)
	m.answered(whyShed, notJournaled)
	require.True(t, e.take("a1", 40_00, time.Now()))
	require.True(t, e.take("a2", 2_50, time.Now()))

	families, err := reg.Gather()
	require.NoError(t, err)
	answers, exposure := map[string]float64{}, -1.0
	for _, f := range families {
		for _, mm := range f.GetMetric() {
			switch f.GetName() {
			case MetricStandInAnswers:
				l := map[string]string{}
				for _, p := range mm.GetLabel() {
					l[p.GetName()] = p.GetValue()
				}
				answers[l["why"]+" "+l["code"]] = mm.GetCounter().GetValue()
			case MetricStandInExposure:
				exposure = mm.GetGauge().GetValue()
			}
		}
	}
	require.Equal(t, map[string]float64{"no_answer 00": 2, "shed not_journaled": 1}, answers)
	require.Equal(t, 42_50.0, exposure)
}
