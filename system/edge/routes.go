package edge

import (
	"net/http"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/cards"
	"github.com/faultline/faultline/system/emoji"
	"github.com/faultline/faultline/system/feed"
	"github.com/faultline/faultline/system/merchant"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/payments"
	"github.com/faultline/faultline/system/profile"
	"github.com/faultline/faultline/system/support"
)

func (s *service) routes() {
	s.p.Handle("GET /v1/balance", s.authed(s.balance))
	s.p.Handle("POST /v1/payments", s.authed(s.payment))
	s.p.Handle("PUT /v1/cards/{id}/status", s.authed(s.cardStatus))
	s.p.Handle("GET /v1/feed", s.authed(s.feed))
	s.p.Handle("POST /v1/support/messages", s.authed(s.support))
	s.p.Handle("PUT /v1/reactions", s.authed(s.reaction))
	s.p.Handle("PUT /v1/profile/picture", s.authed(s.picture))
	s.p.Handle("GET /v1/merchants/{id}/logo", s.authed(s.logo))
}

// forward calls dep and writes its JSON answer with status.
func (s *service) forward(w http.ResponseWriter, r *http.Request, dep string, status int, call mesh.Call, out any) error {
	if err := s.deps[dep].Do(r.Context(), call, out); err != nil {
		return err
	}
	mesh.WriteJSON(w, status, out)
	return nil
}

func (s *service) balance(w http.ResponseWriter, r *http.Request, sess Session) error {
	acct := r.URL.Query().Get("account")
	if acct == "" && len(sess.Accounts) > 0 {
		acct = sess.Accounts[0]
	}
	if !owns(sess.Accounts, acct) {
		return mesh.Errorf(http.StatusForbidden, "forbidden", "account %s is not yours", acct)
	}
	return s.forward(w, r, "balance", 200, mesh.Call{Method: "GET", Path: "/v1/accounts/" + acct + "/balance", Customer: sess.Customer}, &balance.Balance{})
}

// DecodePayment reads and validates a payment request as the app sends it.
func DecodePayment(r *http.Request) (payments.Request, error) {
	var req payments.Request
	if err := mesh.Decode(r, &req); err != nil {
		return req, err
	}
	return req, payments.Validate(req)
}

func (s *service) payment(w http.ResponseWriter, r *http.Request, sess Session) error {
	req, err := DecodePayment(r)
	if err != nil {
		return err
	}
	if !owns(sess.Accounts, req.From) {
		return mesh.Errorf(http.StatusForbidden, "forbidden", "account %q is not yours", req.From)
	}
	key := r.Header.Get(mesh.HeaderIdempotency)
	if !payments.ValidKey(key) {
		return mesh.Errorf(400, "bad_idempotency_key", "payments need an Idempotency-Key header of 8-64 of [A-Za-z0-9_-]")
	}
	return s.forward(w, r, "payments", 200, mesh.Call{Method: "POST", Path: "/v1/payments", Body: req, IdempotencyKey: key,
		Customer: sess.Customer, Timeout: 2 * mesh.DefaultCallTimeout}, &payments.Response{})
}

func (s *service) cardStatus(w http.ResponseWriter, r *http.Request, sess Session) error {
	id := r.PathValue("id")
	if !owns(sess.Cards, id) {
		return mesh.Errorf(http.StatusForbidden, "forbidden", "card %q is not yours", id)
	}
	var req cards.StatusRequest
	if err := mesh.Decode(r, &req); err != nil {
		return err
	}
	if req.Status != cards.Active && req.Status != cards.Frozen {
		return mesh.Errorf(400, "bad_status", "status must be %q or %q", cards.Active, cards.Frozen)
	}
	return s.forward(w, r, "cards", 200, mesh.Call{Method: "PUT", Path: "/v1/cards/" + id + "/status", Body: req,
		IdempotencyKey: "status:" + id + ":" + req.Status, Customer: sess.Customer}, &cards.Card{})
}

func (s *service) feed(w http.ResponseWriter, r *http.Request, sess Session) error {
	return s.forward(w, r, "feed", 200, mesh.Call{Method: "GET", Path: "/v1/customers/" + sess.Customer + "/feed", Customer: sess.Customer}, &feed.Feed{})
}

func (s *service) support(w http.ResponseWriter, r *http.Request, sess Session) error {
	var m support.Message
	if err := mesh.Decode(r, &m); err != nil {
		return err
	}
	return s.forward(w, r, "support", 201, mesh.Call{Method: "POST", Path: "/v1/customers/" + sess.Customer + "/messages", Body: m,
		IdempotencyKey: r.Header.Get(mesh.HeaderIdempotency), Customer: sess.Customer}, &support.Message{})
}

func (s *service) reaction(w http.ResponseWriter, r *http.Request, sess Session) error {
	var re emoji.Reaction
	if err := mesh.Decode(r, &re); err != nil {
		return err
	}
	if err := emoji.Validate(re); err != nil {
		return err
	}
	return s.forward(w, r, "emoji", 200, mesh.Call{Method: "PUT", Path: "/v1/customers/" + sess.Customer + "/reactions", Body: re,
		IdempotencyKey: "reaction:" + re.Transaction, Customer: sess.Customer}, &emoji.Reaction{})
}

func (s *service) picture(w http.ResponseWriter, r *http.Request, sess Session) error {
	var p profile.Picture
	if err := mesh.Decode(r, &p); err != nil {
		return err
	}
	var out map[string]any
	return s.forward(w, r, "profile", 200, mesh.Call{Method: "PUT", Path: "/v1/customers/" + sess.Customer + "/picture", Body: p,
		IdempotencyKey: "picture", Customer: sess.Customer}, &out)
}

func (s *service) logo(w http.ResponseWriter, r *http.Request, sess Session) error {
	id := r.PathValue("id")
	if !balance.ValidID.MatchString(id) {
		return mesh.Errorf(400, "bad_merchant", "invalid merchant id")
	}
	var m merchant.Merchant
	if err := s.deps["merchant"].Do(r.Context(), mesh.Call{Method: "GET", Path: "/v1/merchants/" + id, Customer: sess.Customer}, &m); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	_, _ = w.Write([]byte(m.Logo))
	return nil
}
