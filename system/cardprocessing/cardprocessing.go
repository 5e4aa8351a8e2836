// Package cardprocessing decides card authorisations: it checks the card,
// reserves the funds through the balance service (which records the ledger
// entry) and answers with an ISO 8583 style response code. It also works the
// VOIDS queue that card-api fills when it had to decline without an answer,
// so that a declined-by-timeout authorisation never moves money.
//
// Nothing deferrable is on this path: enrichment, feed and notifications
// read the ledger later.
package cardprocessing

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/cards"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/transactions"
)

// Response codes beyond the balance service's.
const (
	CodeInvalidCard = "14"
	CodeRestricted  = "62" // frozen card
	// CodeDuplicate answers a message id already used for another
	// authorisation (another card, amount or merchant): the id is not a
	// retry, and nothing is moved under it.
	CodeDuplicate = "94"
)

// AuthRequest is an authorisation request from the card network.
type AuthRequest struct {
	MessageID string                `json:"message_id"`
	CardID    string                `json:"card_id"`
	Amount    int64                 `json:"amount"` // minor units, positive
	Currency  string                `json:"currency"`
	Merchant  transactions.Merchant `json:"merchant"`
}

// AuthResponse is the answer to the card network.
type AuthResponse struct {
	MessageID string `json:"message_id"`
	Approved  bool   `json:"approved"`
	Code      string `json:"code"`
	Reason    string `json:"reason"`
	// Digest is the Digest of the request answered, kept with the answer
	// card-api records so that a message id stays bound to one request.
	// It is never sent to the network.
	Digest string `json:"digest,omitempty"`
}

// Void asks for the authorisation of MessageID on CardID to have no effect.
type Void struct {
	MessageID string `json:"message_id"`
	CardID    string `json:"card_id"`
	Digest    string `json:"digest,omitempty"` // of the request that queued it
}

// AuthKey is the ledger key of an authorisation's message id.
func AuthKey(messageID string) string { return "auth:" + messageID }

type service struct {
	p       *process.Process
	cards   *mesh.Client
	balance *mesh.Client
}

// Setup wires card-processing into p.
func Setup(ctx context.Context, p *process.Process) error {
	cc, err := p.Client("cards")
	if err != nil {
		return err
	}
	bc, err := p.Client("balance")
	if err != nil {
		return err
	}
	s := &service{p: p, cards: cc, balance: bc}
	p.Handle("POST /v1/authorise", s.serveAuthorise)
	p.Handle("POST /v1/void", s.serveVoid)
	p.Handle("POST /v1/standin", s.serveStandIn)
	return nil
}

func (s *service) serveAuthorise(w http.ResponseWriter, r *http.Request) error {
	var req AuthRequest
	if err := mesh.Decode(r, &req); err != nil {
		return err
	}
	if err := Validate(req); err != nil {
		return err
	}
	// On an error there is no answer here: card-api, which answers the
	// network, decides whether to void. Voiding here would undo an
	// authorisation that card-api's retry on another replica approved.
	resp, err := s.authorise(r.Context(), req)
	if err != nil {
		return err
	}
	mesh.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// reserveRequest is the balance service's request for req on account.
func reserveRequest(req AuthRequest, account string) balance.ReserveRequest {
	return balance.ReserveRequest{Key: AuthKey(req.MessageID), Account: account, Amount: -req.Amount,
		Kind: transactions.KindCard, Counterparty: "merchant:" + req.Merchant.ID, Ref: req.MessageID, Merchant: &req.Merchant}
}

func (s *service) authorise(ctx context.Context, req AuthRequest) (AuthResponse, error) {
	resp := AuthResponse{MessageID: req.MessageID}
	var card cards.Card
	err := s.cards.Do(ctx, mesh.Call{Method: http.MethodGet, Path: "/v1/cards/" + req.CardID, Timeout: 300 * time.Millisecond}, &card)
	var me *mesh.Error
	if errors.As(err, &me) && (me.Status == http.StatusNotFound || me.Status == http.StatusBadRequest) {
		resp.Code, resp.Reason = CodeInvalidCard, "invalid card"
		return resp, nil
	}
	if err != nil {
		return resp, err
	}
	if card.Status != cards.Active {
		resp.Code, resp.Reason = CodeRestricted, "card "+card.Status
		return resp, nil
	}
	var out balance.Outcome
	err = s.balance.Do(ctx, mesh.Call{Method: http.MethodPost, Path: "/v1/reserve", IdempotencyKey: AuthKey(req.MessageID),
		Timeout: 600 * time.Millisecond, Body: reserveRequest(req, card.Account)}, &out)
	if errors.As(err, &me) && me.Code == balance.CodeKeyReused {
		resp.Code, resp.Reason = CodeDuplicate, "duplicate transmission"
		return resp, nil
	}
	if err != nil {
		return resp, err
	}
	resp.Approved, resp.Code = out.Status == balance.Approved, out.Code
	switch out.Code {
	case balance.CodeApproved:
		resp.Reason = "approved"
	case balance.CodeInsufficientFunds:
		resp.Reason = "insufficient funds"
	default:
		resp.Reason = "issuer unavailable"
	}
	return resp, nil
}

func (s *service) serveVoid(w http.ResponseWriter, r *http.Request) error {
	var v Void
	if err := mesh.Decode(r, &v); err != nil {
		return err
	}
	if err := ValidateVoid(v); err != nil {
		return err
	}
	var card cards.Card
	err := s.cards.Do(r.Context(), mesh.Call{Method: http.MethodGet, Path: "/v1/cards/" + v.CardID}, &card)
	var me *mesh.Error
	if errors.As(err, &me) && me.Status == http.StatusNotFound {
		mesh.WriteJSON(w, http.StatusOK, balance.VoidResponse{}) // no such card: nothing applied
		return nil
	}
	if err != nil {
		return err
	}
	var out balance.VoidResponse
	if err := s.balance.Do(r.Context(), mesh.Call{Method: http.MethodPost, Path: "/v1/void", IdempotencyKey: AuthKey(v.MessageID) + ":void",
		Body: balance.VoidRequest{Key: AuthKey(v.MessageID), Account: card.Account, Ref: v.MessageID}}, &out); err != nil {
		return err
	}
	mesh.WriteJSON(w, http.StatusOK, out)
	return nil
}

// serveStandIn posts an approval card-api gave alone while the store was
// unavailable (docs/BANK.md, "Stand-in"): the debit goes on the account
// the card belongs to, whatever card-api's copy of the card said, and
// without a funds decision, since the answer was given.
func (s *service) serveStandIn(w http.ResponseWriter, r *http.Request) error {
	var req AuthRequest
	if err := mesh.Decode(r, &req); err != nil {
		return err
	}
	if err := Validate(req); err != nil {
		return err
	}
	var card cards.Card
	err := s.cards.Do(r.Context(), mesh.Call{Method: http.MethodGet, Path: "/v1/cards/" + req.CardID}, &card)
	var me *mesh.Error
	if errors.As(err, &me) && me.Status == http.StatusNotFound {
		return mesh.Errorf(http.StatusUnprocessableEntity, "unknown_card", "card %s does not exist: nothing to post", req.CardID)
	}
	if err != nil {
		return err
	}
	var out balance.Outcome
	if err := s.balance.Do(r.Context(), mesh.Call{Method: http.MethodPost, Path: "/v1/standin", IdempotencyKey: AuthKey(req.MessageID) + ":standin",
		Body: reserveRequest(req, card.Account)}, &out); err != nil {
		return err
	}
	mesh.WriteJSON(w, http.StatusOK, out)
	return nil
}
