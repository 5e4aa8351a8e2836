package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// raw sends body as is and returns the status and the decoded error code.
func raw(t *testing.T, method, url, token, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	signCard(req, bytes.NewReader([]byte(body)))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := harnessHTTP(t).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error string `json:"error"`
	}
	if resp.StatusCode >= 400 {
		require.NoError(t, json.Unmarshal(b, &e), "error bodies are JSON: %s", b)
	}
	return resp.StatusCode, e.Error
}

// TestBadInputIsRefusedCleanly: every kind of bad input gets a 4xx with a
// JSON error body, never a 500.
func TestBadInputIsRefusedCleanly(t *testing.T) {
	p, d := bank(t)
	edge := "https://" + p.Ingress("edge")[0]
	cardAPI := "https://" + p.Ingress("card-api")[0]
	alice, bob := d.Customers[2], d.Customers[3]
	auth := func(body string) (int, string) { return raw(t, "POST", cardAPI+"/v1/authorisations", "", "", body) }
	pay := func(token, key, body string) (int, string) {
		return raw(t, "POST", edge+"/v1/payments", token, key, body)
	}
	cases := []struct {
		name   string
		do     func() (int, string)
		status int
		code   string
	}{
		{"auth malformed JSON", func() (int, string) { return auth(`{"message_id":`) }, 400, "bad_json"},
		{"auth unknown field", func() (int, string) {
			return auth(`{"message_id":"x1","card_id":"` + alice.Card + `","amount":1,"currency":"GBP","merchant":{"id":"m001"},"tip":5}`)
		}, 400, "bad_json"},
		{"auth negative amount", func() (int, string) {
			return auth(`{"message_id":"x2","card_id":"` + alice.Card + `","amount":-100,"currency":"GBP","merchant":{"id":"m001"}}`)
		}, 400, "bad_amount"},
		{"auth absurd amount", func() (int, string) {
			return auth(`{"message_id":"x3","card_id":"` + alice.Card + `","amount":99999999999,"currency":"GBP","merchant":{"id":"m001"}}`)
		}, 400, "bad_amount"},
		{"auth wrong currency", func() (int, string) {
			return auth(`{"message_id":"x4","card_id":"` + alice.Card + `","amount":100,"currency":"EUR","merchant":{"id":"m001"}}`)
		}, 400, "bad_currency"},
		{"pay without token", func() (int, string) { return pay("", "k-00000001", `{}`) }, 401, "unauthenticated"},
		{"pay wrong token", func() (int, string) { return pay("tk_nope", "k-00000001", `{}`) }, 401, "unauthenticated"},
		{"pay malformed", func() (int, string) { return pay(alice.Token, "k-00000002", `{"from":`) }, 400, "bad_json"},
		{"pay negative", func() (int, string) {
			return pay(alice.Token, "k-00000003", `{"from":"`+alice.Account+`","to":"`+bob.Account+`","amount":-1,"currency":"GBP"}`)
		}, 400, "bad_amount"},
		{"pay wrong currency", func() (int, string) {
			return pay(alice.Token, "k-00000004", `{"from":"`+alice.Account+`","to":"`+bob.Account+`","amount":1,"currency":"USD"}`)
		}, 400, "bad_currency"},
		{"pay unknown account", func() (int, string) {
			return pay(alice.Token, "k-00000005", `{"from":"`+alice.Account+`","to":"a99999","amount":1,"currency":"GBP"}`)
		}, 404, "unknown_account"},
		{"pay without idempotency key", func() (int, string) {
			return pay(alice.Token, "", `{"from":"`+alice.Account+`","to":"`+bob.Account+`","amount":1,"currency":"GBP"}`)
		}, 400, "bad_idempotency_key"},
		{"freeze unknown status", func() (int, string) {
			return raw(t, "PUT", edge+"/v1/cards/"+alice.Card+"/status", alice.Token, "", `{"status":"melted"}`)
		}, 400, "bad_status"},
		{"picture not base64", func() (int, string) {
			return raw(t, "PUT", edge+"/v1/profile/picture", alice.Token, "", `{"content_type":"image/png","data":"!!"}`)
		}, 400, "bad_picture"},
		{"unknown emoji", func() (int, string) {
			return raw(t, "PUT", edge+"/v1/reactions", alice.Token, "", `{"transaction":"t","emoji":"🦖"}`)
		}, 400, "bad_reaction"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, code := c.do()
			assert.Equal(t, c.status, status)
			assert.Equal(t, c.code, code)
		})
	}
	// An unknown card is a clean decline for the network, not an error.
	var resp struct{ Code string }
	status, err := newClient(t).do(context.Background(), "POST", cardAPI+"/v1/authorisations", "", "",
		map[string]any{"message_id": "x-unknown-card", "card_id": "k99999", "amount": 100, "currency": "GBP", "merchant": map[string]string{"id": "m001", "name": "Shop"}}, &resp)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, "14", resp.Code)
}

// TestCustomersOnlyReachTheirOwnMoney: another customer's account or card
// is refused, whichever way it is asked for.
func TestCustomersOnlyReachTheirOwnMoney(t *testing.T) {
	p, d := bank(t)
	edge := "https://" + p.Ingress("edge")[0]
	alice, bob := d.Customers[4], d.Customers[5]
	status, code := raw(t, "POST", edge+"/v1/payments", alice.Token, "steal-000001",
		`{"from":"`+bob.Account+`","to":"`+alice.Account+`","amount":100,"currency":"GBP"}`)
	assert.Equal(t, 403, status, "paying from someone else's account")
	assert.Equal(t, "forbidden", code)
	status, _ = raw(t, "GET", edge+"/v1/balance?account="+bob.Account, alice.Token, "", "")
	assert.Equal(t, 403, status, "reading someone else's balance")
	status, _ = raw(t, "PUT", edge+"/v1/cards/"+bob.Card+"/status", alice.Token, "", `{"status":"frozen"}`)
	assert.Equal(t, 403, status, "freezing someone else's card")
	// Behind edge, services refuse a customer edge names who does not own
	// what is asked for (edge is the one service that may name one).
	asEdge := newClientAs(t, "edge").http
	for _, url := range []string{
		"https://" + p.Instances("balance")[0].Addr + "/v1/accounts/" + bob.Account + "/balance",
		"https://" + p.Instances("feed")[0].Addr + "/v1/customers/" + bob.ID + "/feed",
	} {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("X-Customer", alice.ID)
		resp, err := asEdge.Do(req)
		require.NoError(t, err)
		var e struct{ Error, Detail string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		assert.Equal(t, 403, resp.StatusCode, url)
		assert.Contains(t, e.Detail, "not your", "refused by the owner check, not the route's policy: %+v", e)
	}
	a := audit(t, p)
	assert.Zero(t, a.Refs["c00005/steal-000001"].Debits)
}
