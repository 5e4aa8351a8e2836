package e2e_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/cardprocessing"
)

// A void reverses an approved authorisation on the account it charged,
// whatever account the void names: a void used to credit the account in
// the request, so a void naming another account moved the money there.
func TestVoidReversesTheChargedAccount(t *testing.T) {
	p, d := bank(t)
	c := newClient(t)
	ctx := context.Background()
	cardAPI := "https://" + p.Ingress("card-api")[0]
	payer, other := d.Customers[40], d.Customers[41]
	before := audit(t, p)

	req := cardprocessing.AuthRequest{MessageID: "e2e-void-account", CardID: payer.Card, Amount: 700, Currency: "GBP", Merchant: d.Merchants[0]}
	resp, status := authorise(t, c, cardAPI, req)
	require.Equal(t, 200, status)
	require.True(t, resp.Approved, "%+v", resp)

	key := cardprocessing.AuthKey(req.MessageID)
	var out balance.VoidResponse
	status, err := newClientAs(t, "card-processing").do(ctx, "POST", "https://"+p.Instances("balance")[0].Addr+"/v1/void", "", key+":void",
		balance.VoidRequest{Key: key, Account: other.Account, Ref: req.MessageID}, &out)
	require.NoError(t, err)
	require.Equal(t, 200, status)
	assert.True(t, out.Reversed, "the approval was reversed")

	after := audit(t, p)
	assert.True(t, after.OK, "audit problems: %v", after.Problems)
	assert.Equal(t, before.Balances[payer.Account], after.Balances[payer.Account], "the charged account is made whole")
	assert.Equal(t, before.Balances[other.Account], after.Balances[other.Account], "the account the void named is untouched")
	assert.Zero(t, after.Refs[req.MessageID].Net, "the authorisation's net effect")
}
