package topology

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMoneyRoutesTakeOnlyTheServiceWhoseJobItIs(t *testing.T) {
	assert.NoError(t, MayCall("card-processing", "balance", "POST /v1/reserve"))
	assert.NoError(t, MayCall("payments", "balance", "POST /v1/reserve"))
	assert.Error(t, MayCall("edge", "balance", "POST /v1/reserve"), "edge calls balance, but only to read")
	assert.Error(t, MayCall("payments", "balance", "POST /v1/void"))
	assert.NoError(t, MayCall("balance", "transactions", "POST /v1/ledger/append"))
	assert.Error(t, MayCall("card-processing", "transactions", "POST /v1/ledger/append"), "card-processing does not call transactions")
	assert.Error(t, MayCall("card-api", "balance", "POST /v1/reserve"), "card-api does not call balance")
	assert.Error(t, MayCall("", "card-processing", "POST /v1/authorise"), "no certificate")
}

func TestTheHarnessMayReadAndNeverWrite(t *testing.T) {
	assert.NoError(t, MayCall(Harness, "transactions", "GET /v1/audit"))
	assert.NoError(t, MayCall(Harness, "card-api", "GET /v1/answers"))
	assert.Error(t, MayCall(Harness, "balance", "POST /v1/reserve"))
	assert.Error(t, MayCall(Harness, "transactions", "POST /v1/ledger/append"))
}

func TestEntryRoutesTakeCallersFromOutside(t *testing.T) {
	assert.NoError(t, MayCall("", "edge", "POST /v1/payments"))
	assert.NoError(t, MayCall("", "card-api", "POST /v1/authorisations"))
	assert.Error(t, MayCall("", "card-api", "GET /v1/answers"), "the answers list is not for the network")
}

func TestOnlyEdgeActsForCustomersAndAlwaysDoes(t *testing.T) {
	assert.NoError(t, MayActFor("edge", true))
	assert.Error(t, MayActFor("edge", false))
	assert.NoError(t, MayActFor("payments", false))
	assert.Error(t, MayActFor("payments", true))
	assert.Error(t, MayActFor(Harness, true))
}

func TestGrantsOnlyNarrowTheCallGraph(t *testing.T) {
	saved := Grants["balance POST /v1/void"]
	defer func() { Grants["balance POST /v1/void"] = saved }()
	Grants["balance POST /v1/void"] = []string{"card-api"}
	assert.ErrorContains(t, Validate(), "does not call balance")
}
