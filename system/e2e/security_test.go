package e2e_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/cardapi"
	"github.com/faultline/faultline/system/cardprocessing"
	edgepkg "github.com/faultline/faultline/system/edge"
	"github.com/faultline/faultline/system/identity"
	"github.com/faultline/faultline/system/payments"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/transactions"
)

// The internal money routes check what they are sent as the entry points
// do: a negative authorisation sent straight to card-processing used to be
// approved as a £5,000 credit. Each request that could create money is
// refused with a 4xx, and the ledger is unchanged.
func TestInternalMoneyRoutesRefuseWhatWouldCreateMoney(t *testing.T) {
	p, d := bank(t)
	c := newClient(t)
	ctx := context.Background()
	cust := d.Customers[30]
	cp := "https://" + p.Instances("card-processing")[0].Addr
	bal := "https://" + p.Instances("balance")[0].Addr
	ledger := "https://" + p.Instances("transactions")[0].Addr
	before := audit(t, p)

	var last transactions.Entry
	status, err := c.do(ctx, "GET", ledger+"/v1/ledger/accounts/"+cust.Account+"/last", "", "", nil, &last)
	require.NoError(t, err)
	require.Equal(t, 200, status)

	merchant := d.Merchants[0]
	cases := []struct {
		name   string
		url    string
		key    string
		body   any
		status int
	}{
		{"card-processing: a negative authorisation", cp + "/v1/authorise", "auth:sec-neg",
			cardprocessing.AuthRequest{MessageID: "sec-neg", CardID: cust.Card, Amount: -500000, Currency: "GBP", Merchant: merchant}, 400},
		{"card-processing: another currency", cp + "/v1/authorise", "auth:sec-usd",
			cardprocessing.AuthRequest{MessageID: "sec-usd", CardID: cust.Card, Amount: 100, Currency: "USD", Merchant: merchant}, 400},
		{"balance: card spend as a credit", bal + "/v1/reserve", "auth:sec-credit",
			balance.ReserveRequest{Key: "auth:sec-credit", Account: cust.Account, Amount: 500000, Kind: transactions.KindCard,
				Counterparty: "merchant:" + merchant.ID, Ref: "sec-credit", Merchant: &merchant}, 400},
		{"balance: an opening", bal + "/v1/reserve", "open:sec",
			balance.ReserveRequest{Key: "open:sec", Account: cust.Account, Amount: 500000, Kind: transactions.KindOpening, Ref: "open:sec"}, 400},
		{"balance: a negative transfer-in", bal + "/v1/reserve", "pay:sec:in",
			balance.ReserveRequest{Key: "pay:sec:in", Account: cust.Account, Amount: -100, Kind: transactions.KindTransferIn,
				Counterparty: d.Customers[31].Account, Ref: "sec/in"}, 400},
		{"ledger: an opening appended", ledger + "/v1/ledger/append", "open:sec2",
			transactions.AppendRequest{ExpectedSeq: last.Seq, Entry: transactions.Entry{Key: "open:sec2", Account: cust.Account, Customer: cust.ID,
				Amount: 500000, BalanceAfter: last.BalanceAfter + 500000, Limit: last.Limit, Kind: transactions.KindOpening, Ref: "open:sec2"}}, 400},
		{"ledger: a balance that does not add up", ledger + "/v1/ledger/append", "rev:sec",
			transactions.AppendRequest{ExpectedSeq: last.Seq, Entry: transactions.Entry{Key: "rev:sec", Account: cust.Account, Customer: cust.ID,
				Amount: 1, BalanceAfter: last.BalanceAfter + 500000, Limit: last.Limit, Kind: transactions.KindCardReverse, Ref: "sec-rev"}}, 422},
		{"ledger: a raised overdraft limit", ledger + "/v1/ledger/append", "rev:sec2",
			transactions.AppendRequest{ExpectedSeq: last.Seq, Entry: transactions.Entry{Key: "rev:sec2", Account: cust.Account, Customer: cust.ID,
				Amount: 1, BalanceAfter: last.BalanceAfter + 1, Limit: last.Limit + 500000, Kind: transactions.KindCardReverse, Ref: "sec-rev2"}}, 422},
	}
	// Each route is called as the one service that may call it.
	callers := map[string]*bankClient{cp: newClientAs(t, "card-api"), bal: newClientAs(t, "card-processing"), ledger: newClientAs(t, "balance")}
	for _, tc := range cases {
		var out map[string]any
		base := tc.url[:strings.Index(tc.url, "/v1/")]
		status, err := callers[base].do(ctx, "POST", tc.url, "", tc.key, tc.body, &out)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.status, status, "%s: %v", tc.name, out)
	}

	after := audit(t, p)
	assert.True(t, after.OK, "audit problems: %v", after.Problems)
	assert.Equal(t, before.Balances[cust.Account], after.Balances[cust.Account], "the account is unchanged")
	assert.Equal(t, before.Opening, after.Opening, "no money opened")
	assert.Equal(t, before.External, after.External, "no card spend or credit")
}

// An idempotency key is bound to the request that first used it: the same
// key with another card, amount or counterparty is refused, not answered
// with the first request's outcome (which used to approve it and move
// nothing, or move the first amount only).
func TestReusedKeysAreRefused(t *testing.T) {
	p, d := bank(t)
	c := newClient(t)
	ctx := context.Background()
	cardAPI := "https://" + p.Ingress("card-api")[0]
	edge := "https://" + p.Ingress("edge")[0]
	first, second := d.Customers[32], d.Customers[33]
	before := audit(t, p)

	req := cardprocessing.AuthRequest{MessageID: "sec-reuse", CardID: first.Card, Amount: 250, Currency: "GBP", Merchant: d.Merchants[1]}
	resp, status := authorise(t, c, cardAPI, req)
	require.Equal(t, 200, status)
	require.True(t, resp.Approved, "%+v", resp)
	assert.Empty(t, resp.Digest, "the network is not sent the digest")

	other := req
	other.CardID = second.Card
	resp, status = authorise(t, c, cardAPI, other)
	require.Equal(t, 200, status)
	assert.False(t, resp.Approved)
	assert.Equal(t, cardprocessing.CodeDuplicate, resp.Code, "a message id reused for another card: %+v", resp)

	more := req
	more.Amount = 25000
	resp, _ = authorise(t, c, cardAPI, more)
	assert.Equal(t, cardprocessing.CodeDuplicate, resp.Code, "a message id reused for another amount: %+v", resp)

	resp, _ = authorise(t, c, cardAPI, req)
	assert.True(t, resp.Approved, "the same request again is a retry, with the first answer: %+v", resp)

	// Straight to card-processing (the answers record skipped): balance
	// binds the key, and card-processing answers 94.
	var cpResp cardprocessing.AuthResponse
	status, err := newClientAs(t, "card-api").do(ctx, "POST", "https://"+p.Instances("card-processing")[0].Addr+"/v1/authorise", "", "auth:sec-reuse", other, &cpResp)
	require.NoError(t, err)
	require.Equal(t, 200, status)
	assert.Equal(t, cardprocessing.CodeDuplicate, cpResp.Code, "%+v", cpResp)

	pay := func(amount int64) (int, payments.Response) {
		var out payments.Response
		status, err := c.do(ctx, "POST", edge+"/v1/payments", first.Token, "sec-reuse-key",
			payments.Request{From: first.Account, To: second.Account, Amount: amount, Currency: "GBP"}, &out)
		require.NoError(t, err)
		return status, out
	}
	status, out := pay(1)
	require.Equal(t, 200, status)
	require.Equal(t, balance.Approved, out.Status)
	status, _ = pay(500)
	assert.Equal(t, http.StatusUnprocessableEntity, status, "a payment key reused for another amount")
	status, again := pay(1)
	assert.Equal(t, 200, status)
	assert.Equal(t, out, again, "the same payment again is a retry")

	after := audit(t, p)
	assert.True(t, after.OK, "audit problems: %v", after.Problems)
	assert.Equal(t, before.Balances[first.Account]-250-1, after.Balances[first.Account], "one authorisation and one penny left the first account")
	assert.Equal(t, before.Balances[second.Account]+1, after.Balances[second.Account], "the second card was not charged; one penny arrived")
}

// The fault hook and the metrics answer only the run's admin token: not
// through the card network's ingress or the app's edge, where they used to
// answer 200 to anyone.
func TestAdminRoutesNeedTheRunsToken(t *testing.T) {
	p, _ := bank(t)
	for _, entry := range []string{p.Ingress("card-api")[0], p.Ingress("edge")[0]} {
		for _, path := range []string{"/admin/faults", "/metrics"} {
			status, code := raw(t, "GET", "https://"+entry+path, "", "", "")
			assert.Equal(t, http.StatusUnauthorized, status, "%s%s", entry, path)
			assert.Equal(t, "unauthenticated", code)
			status, _ = raw(t, "GET", "https://"+entry+path, "not-the-token-at-all", "", "")
			assert.Equal(t, http.StatusUnauthorized, status, "%s%s with a wrong token", entry, path)
		}
	}
	in := p.Instances("card-api")[0]
	status, _ := raw(t, "GET", "https://"+in.Addr+"/admin/faults", p.AdminToken(), "", "")
	assert.Equal(t, http.StatusOK, status, "the harness, with the run's token")
}

// What a customer sends is checked before it is copied anywhere: a value
// with a newline used to reach a header and fail the call (503, and a
// healthy endpoint's breaker counted it); text with control characters,
// a picture that is not what it says, a key that matches a field only
// without regard to case, are refused; error bodies are JSON everywhere.
func TestCustomerInputIsCheckedBeforeItIsUsed(t *testing.T) {
	p, d := bank(t)
	edge := "https://" + p.Ingress("edge")[0]
	cardAPI := "https://" + p.Ingress("card-api")[0]
	cust := d.Customers[34]
	svg := base64.StdEncoding.EncodeToString([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
	cases := []struct {
		name   string
		method string
		url    string
		body   string
		status int
	}{
		{"card status with a newline", "PUT", edge + "/v1/cards/" + cust.Card + "/status", `{"status":"frozen\n"}`, 400},
		{"reaction with CRLF", "PUT", edge + "/v1/reactions", `{"transaction":"x\r\n","emoji":"👍"}`, 400},
		{"support text with NUL and an escape", "POST", edge + "/v1/support/messages", `{"text":"hi\u0000\u001b[2J"}`, 400},
		{"an SVG sent as a PNG", "PUT", edge + "/v1/profile/picture", `{"content_type":"image/png","data":"` + svg + `"}`, 400},
		{"AMOUNT for amount", "POST", cardAPI + "/v1/authorisations",
			`{"message_id":"sec-case","card_id":"` + cust.Card + `","AMOUNT":1,"currency":"GBP","merchant":{"id":"m001"}}`, 400},
		{"no such route", "GET", edge + "/v1/nowhere", "", 404},
		{"wrong method", "DELETE", edge + "/v1/balance", "", 405},
	}
	for _, tc := range cases {
		status, code := raw(t, tc.method, tc.url, cust.Token, "", tc.body)
		assert.Equal(t, tc.status, status, "%s (%s)", tc.name, code)
	}
	// The edge still serves the card: nothing was counted against cards.
	status, _ := raw(t, "PUT", edge+"/v1/cards/"+cust.Card+"/status", cust.Token, "", `{"status":"active"}`)
	assert.Equal(t, 200, status)

	// A 16 KiB request ID is not echoed or passed on.
	req, _ := http.NewRequest("GET", edge+"/v1/balance", nil)
	req.Header.Set("Authorization", "Bearer "+cust.Token)
	long := strings.Repeat("r", 16<<10)
	req.Header.Set("X-Request-Id", long)
	resp, err := harnessHTTP(t).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.NotEqual(t, long, resp.Header.Get("X-Request-Id"))
	assert.LessOrEqual(t, len(resp.Header.Get("X-Request-Id")), 64)
}

// Customers' tokens are credentials, not data: the token the public
// default seed used to derive no longer works, and a session past its
// expiry is refused.
func TestSessionsAreSecretAndExpire(t *testing.T) {
	p, d := bank(t)
	edge := "https://" + p.Ingress("edge")[0]
	h := sha256.Sum256(fmt.Appendf(nil, "faultline-seed-%d-%d", d.Seed, 1))
	status, code := raw(t, "GET", edge+"/v1/balance", fmt.Sprintf("tk_%x", h[:16]), "", "")
	assert.Equal(t, http.StatusUnauthorized, status, "the token derived from the public seed")
	assert.Equal(t, "unauthenticated", code)

	status, _ = raw(t, "GET", edge+"/v1/balance", d.Customers[35].Token, "", "")
	assert.Equal(t, 200, status, "the seeded token")

	nc, js, err := store.Connect("nats://"+p.Instances("store")[0].Addr, "e2e-sessions", store.Login(store.HarnessUser, p.StorePassword(store.HarnessUser)))
	require.NoError(t, err)
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, store.BucketSessions)
	require.NoError(t, err)
	c := d.Customers[35]
	const token = "tk_e2e-expired-session"
	require.NoError(t, store.PutJSON(ctx, kv, edgepkg.SessionKey(token), edgepkg.Session{Customer: c.ID, Accounts: []string{c.Account},
		Cards: []string{c.Card}, Expires: time.Now().Add(-time.Minute)}))
	status, code = raw(t, "GET", edge+"/v1/balance", token, "", "")
	assert.Equal(t, http.StatusUnauthorized, status, "an expired session")
	assert.Equal(t, "session_expired", code)
}

// card-api takes only messages the card network signed: one without the
// MAC, or with a MAC under another key, is refused before it is read.
func TestCardMessagesMustBeSigned(t *testing.T) {
	p, d := bank(t)
	url := "https://" + p.Ingress("card-api")[0] + "/v1/authorisations"
	body := []byte(`{"message_id":"sec-unsigned","card_id":"` + d.Customers[36].Card + `","amount":100,"currency":"GBP","merchant":{"id":"m001"}}`)
	for name, mac := range map[string]string{
		"no MAC":                "",
		"a MAC under other key": cardapi.Sign([]byte("not the network's key at all"), body),
		"a MAC of another body": cardapi.Sign(p.CardKey(), []byte(`{}`)),
	} {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		if mac != "" {
			req.Header.Set(cardapi.HeaderMAC, mac)
		}
		resp, err := harnessHTTP(t).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, name)
	}
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set(cardapi.HeaderMAC, cardapi.Sign(p.CardKey(), body))
	resp, err := harnessHTTP(t).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "signed with the run's key")
}

// Every call between services is mutually authenticated and authorised
// from the mesh description: anything that reaches an instance used to be
// able to reserve, append to the ledger or void. A caller with no
// certificate, with another run's, or with a certificate of a service the
// route does not take is refused before the handler, and the ledger is
// unchanged.
func TestServicesTakeOnlyTheCallersTheCallGraphAllows(t *testing.T) {
	p, d := bank(t)
	ctx := context.Background()
	cust := d.Customers[32]
	merchant := d.Merchants[0]
	cp := "https://" + p.Instances("card-processing")[0].Addr
	bal := "https://" + p.Instances("balance")[0].Addr
	ledger := "https://" + p.Instances("transactions")[0].Addr
	cardsURL := "https://" + p.Instances("cards")[0].Addr + "/v1/cards/" + cust.Card
	before := audit(t, p)

	auth := cardprocessing.AuthRequest{MessageID: "sec-mtls", CardID: cust.Card, Amount: 100, Currency: "GBP", Merchant: merchant}
	reserve := balance.ReserveRequest{Key: "auth:sec-mtls", Account: cust.Account, Amount: -100, Kind: transactions.KindCard,
		Counterparty: "merchant:" + merchant.ID, Ref: "sec-mtls", Merchant: &merchant}
	var last transactions.Entry
	status, err := newClient(t).do(ctx, "GET", ledger+"/v1/ledger/accounts/"+cust.Account+"/last", "", "", nil, &last)
	require.NoError(t, err)
	require.Equal(t, 200, status, "the harness reads")
	appendReq := transactions.AppendRequest{ExpectedSeq: last.Seq, Entry: transactions.Entry{Key: "auth:sec-mtls", Account: cust.Account,
		Customer: cust.ID, Amount: -100, BalanceAfter: last.BalanceAfter - 100, Limit: last.Limit, Kind: transactions.KindCard,
		Counterparty: "merchant:" + merchant.ID, Ref: "sec-mtls"}}

	stranger := otherRun(t)
	cases := []struct {
		name   string
		c      *bankClient
		url    string
		key    string
		body   any
		status int
		code   string
	}{
		{"no certificate: authorise", outsideClient(t), cp + "/v1/authorise", "auth:sec-mtls", auth, 401, "unauthenticated"},
		{"no certificate: reserve", outsideClient(t), bal + "/v1/reserve", "auth:sec-mtls", reserve, 401, "unauthenticated"},
		{"no certificate: append", outsideClient(t), ledger + "/v1/ledger/append", "auth:sec-mtls", appendReq, 401, "unauthenticated"},
		{"the harness: reserve", newClient(t), bal + "/v1/reserve", "auth:sec-mtls", reserve, 403, "forbidden"},
		{"the harness: append", newClient(t), ledger + "/v1/ledger/append", "auth:sec-mtls", appendReq, 403, "forbidden"},
		{"edge: reserve", newClientAs(t, "edge"), bal + "/v1/reserve", "auth:sec-mtls", reserve, 403, "forbidden"},
		{"card-processing: append", newClientAs(t, "card-processing"), ledger + "/v1/ledger/append", "auth:sec-mtls", appendReq, 403, "forbidden"},
		{"payments: void", newClientAs(t, "payments"), bal + "/v1/void", "auth:sec-mtls:void",
			balance.VoidRequest{Key: "auth:sec-mtls", Account: cust.Account, Ref: "sec-mtls"}, 403, "forbidden"},
	}
	for _, tc := range cases {
		var out struct{ Error, Detail string }
		status, err := tc.c.do(ctx, "POST", tc.url, "", tc.key, tc.body, &out)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.status, status, "%s: %+v", tc.name, out)
		assert.Equal(t, tc.code, out.Error, tc.name)
	}

	// Only edge may say which customer a call is for.
	req, _ := http.NewRequest("GET", cardsURL, nil)
	req.Header.Set("X-Customer", cust.ID)
	resp, err := newClientAs(t, "card-processing").http.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 403, resp.StatusCode, "card-processing naming a customer")
	req, _ = http.NewRequest("GET", cardsURL, nil)
	resp, err = newClientAs(t, "edge").http.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 403, resp.StatusCode, "edge naming no customer")

	// Another run's certificates, and plain HTTP, get nothing.
	_, err = stranger.http.Get(bal + "/v1/accounts/" + cust.Account + "/balance")
	assert.Error(t, err, "a certificate from another authority fails the handshake")
	resp, err = (&http.Client{Timeout: 5 * time.Second}).Post(strings.Replace(bal, "https://", "http://", 1)+"/v1/reserve", "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		assert.Equal(t, 400, resp.StatusCode, "plain HTTP is not served")
	}

	after := audit(t, p)
	assert.True(t, after.OK, "audit problems: %v", after.Problems)
	assert.Equal(t, before.Balances[cust.Account], after.Balances[cust.Account], "the account is unchanged")
	assert.Zero(t, after.Refs["sec-mtls"].Debits, "nothing reserved")
}

// outsideClient calls as a client from outside the mesh: the run's CA, no
// certificate.
func outsideClient(t *testing.T) *bankClient {
	return &bankClient{t: t, http: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: shared.OutsideTLS()}}}
}

// otherRun calls with a certificate for card-processing from another
// run's authority, trusting any server.
func otherRun(t *testing.T) *bankClient {
	ca, err := identity.NewAuthority()
	require.NoError(t, err)
	creds, err := ca.Issue("card-processing")
	require.NoError(t, err)
	cfg, err := creds.AnyService()
	require.NoError(t, err)
	cfg.VerifyConnection = nil // trust the server: only our certificate is on trial
	return &bankClient{t: t, http: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}}
}
