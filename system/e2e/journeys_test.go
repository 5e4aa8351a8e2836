package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/feed"
	"github.com/faultline/faultline/system/payments"
)

func authorise(t *testing.T, c *bankClient, url string, req cardprocessing.AuthRequest) (cardprocessing.AuthResponse, int) {
	var resp cardprocessing.AuthResponse
	status, err := c.do(context.Background(), "POST", url+"/v1/authorisations", "", "", req, &resp)
	require.NoError(t, err)
	return resp, status
}

// TestEveryJourney uses every customer feature once, end to end, and checks
// that the audit holds.
func TestEveryJourney(t *testing.T) {
	p, d := bank(t)
	c := newClient(t)
	ctx := context.Background()
	edge := "https://" + p.Ingress("edge")[0]
	cardAPI := "https://" + p.Ingress("card-api")[0]
	alice, bob := d.Customers[0], d.Customers[1]
	m := d.Merchants[0]

	// Card authorisation, and its retry with the same message id.
	req := cardprocessing.AuthRequest{MessageID: "e2e-auth-1", CardID: alice.Card, Amount: 1234, Currency: "GBP", Merchant: m}
	resp, status := authorise(t, c, cardAPI, req)
	require.Equal(t, 200, status)
	assert.True(t, resp.Approved, "%+v", resp)
	assert.Equal(t, "00", resp.Code)
	again, _ := authorise(t, c, cardAPI, req)
	assert.Equal(t, resp, again, "a retried message gets the first answer")

	// Insufficient funds.
	big := req
	big.MessageID, big.Amount = "e2e-auth-big", alice.Opening+alice.Limit+1
	resp, _ = authorise(t, c, cardAPI, big)
	assert.False(t, resp.Approved)
	assert.Equal(t, "51", resp.Code)

	// Balance.
	var b balance.Balance
	require.Eventually(t, func() bool {
		status, err := c.do(ctx, "GET", edge+"/v1/balance", alice.Token, "", nil, &b)
		return err == nil && status == 200 && b.Balance == alice.Opening-1234
	}, 5*time.Second, 50*time.Millisecond, "balance after one card payment: %+v", b)

	// Payment to bob, retried with the same key.
	var pay payments.Response
	body := payments.Request{From: alice.Account, To: bob.Account, Amount: 500, Currency: "GBP"}
	status, err := c.do(ctx, "POST", edge+"/v1/payments", alice.Token, "e2e-pay-0001", body, &pay)
	require.NoError(t, err)
	require.Equal(t, 200, status, "%+v", pay)
	assert.Equal(t, "approved", pay.Status)
	status, err = c.do(ctx, "POST", edge+"/v1/payments", alice.Token, "e2e-pay-0001", body, &pay)
	require.NoError(t, err)
	assert.Equal(t, 200, status)

	// Freeze the card: authorisations are declined "62"; unfreeze.
	status, err = c.do(ctx, "PUT", edge+"/v1/cards/"+alice.Card+"/status", alice.Token, "", map[string]string{"status": "frozen"}, nil)
	require.NoError(t, err)
	require.Equal(t, 200, status)
	frozen := req
	frozen.MessageID = "e2e-auth-frozen"
	resp, _ = authorise(t, c, cardAPI, frozen)
	assert.Equal(t, "62", resp.Code)
	status, _ = c.do(ctx, "PUT", edge+"/v1/cards/"+alice.Card+"/status", alice.Token, "", map[string]string{"status": "active"}, nil)
	assert.Equal(t, 200, status)

	// Deferred work: the feed shows the card payment and the transfer.
	require.Eventually(t, func() bool {
		var f feed.Feed
		status, err := c.do(ctx, "GET", edge+"/v1/feed", alice.Token, "", nil, &f)
		return err == nil && status == 200 && len(f.Items) >= 3
	}, 15*time.Second, 100*time.Millisecond, "the feed catches up")

	// Tier 2-3 features.
	status, _ = c.do(ctx, "POST", edge+"/v1/support/messages", alice.Token, "", map[string]string{"text": "hello"}, nil)
	assert.Equal(t, 201, status)
	status, _ = c.do(ctx, "PUT", edge+"/v1/reactions", alice.Token, "", map[string]string{"transaction": "auth:e2e-auth-1", "emoji": "🍕"}, nil)
	assert.Equal(t, 200, status)
	status, _ = c.do(ctx, "PUT", edge+"/v1/profile/picture", alice.Token, "", map[string]string{"content_type": "image/png", "data": "iVBORw0KGgo="}, nil)
	assert.Equal(t, 200, status)
	status, _ = c.do(ctx, "GET", edge+"/v1/merchants/"+m.ID+"/logo", alice.Token, "", nil, nil)
	assert.Equal(t, 200, status)

	a := audit(t, p)
	assert.True(t, a.OK, "audit problems: %v", a.Problems)
	assert.Equal(t, 1, a.Refs["e2e-auth-1"].Debits)
	assert.Equal(t, int64(-1234), a.Refs["e2e-auth-1"].Net)
	assert.Equal(t, 0, a.Refs["e2e-auth-big"].Debits)
	assert.Equal(t, 1, a.Refs[payments.Ref(alice.ID, "e2e-pay-0001")].Debits)
	assert.Equal(t, d.Opening()+a.External, a.Total, "money is conserved")
	fmt.Println("audit:", a.Entries, "entries, total", a.Total)
}
