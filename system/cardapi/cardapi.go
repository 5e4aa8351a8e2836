// Package cardapi is the card network's entry point. It validates
// authorisation requests, passes them to card-processing within the network's
// deadline, and always answers: when card-processing cannot, it queues a void
// of the message and declines with "issuer unavailable".
package cardapi

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// Deadline is how long card-processing has to answer.
const Deadline = 900 * time.Millisecond

var validMessageID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

type service struct {
	p      *process.Process
	cp     *mesh.Client
	voided jetstream.KeyValue // message id -> answered "91"; the first answer sticks
}

// Setup wires card-api into p.
func Setup(ctx context.Context, p *process.Process) error {
	cp, err := p.Client("card-processing")
	if err != nil {
		return err
	}
	if _, err := store.EnsureStream(ctx, p.JS, store.VoidsStream); err != nil {
		return err
	}
	voided, err := p.KV(ctx, store.BucketVoided)
	if err != nil {
		return err
	}
	s := &service{p: p, cp: cp, voided: voided}
	p.Handle("POST /v1/authorisations", s.serveAuthorisation)
	return nil
}

// DecodeAuth reads and validates an authorisation request.
func DecodeAuth(r *http.Request) (cardprocessing.AuthRequest, error) {
	var req cardprocessing.AuthRequest
	if err := mesh.Decode(r, &req); err != nil {
		return req, err
	}
	return req, ValidateAuth(req)
}

// ValidateAuth checks an authorisation request's fields.
func ValidateAuth(req cardprocessing.AuthRequest) error {
	switch {
	case !validMessageID.MatchString(req.MessageID):
		return mesh.Errorf(400, "bad_message_id", "message_id must be 1-64 of [A-Za-z0-9_-]")
	case !balance.ValidID.MatchString(req.CardID):
		return mesh.Errorf(400, "bad_card", "invalid card_id")
	case req.Amount <= 0 || req.Amount > balance.MaxAmount:
		return mesh.Errorf(400, "bad_amount", "amount must be between 1 and %d minor units", balance.MaxAmount)
	case req.Currency != "GBP":
		return mesh.Errorf(400, "bad_currency", "only GBP is accepted, got %q", req.Currency)
	case !balance.ValidID.MatchString(req.Merchant.ID) || len(req.Merchant.Name) > 100:
		return mesh.Errorf(400, "bad_merchant", "merchant needs a valid id and a name of at most 100 bytes")
	}
	return nil
}

func (s *service) serveAuthorisation(w http.ResponseWriter, r *http.Request) error {
	req, err := DecodeAuth(r)
	if err != nil {
		return err
	}
	unavailable := cardprocessing.AuthResponse{MessageID: req.MessageID, Code: balance.CodeIssuerUnavailable, Reason: "issuer unavailable"}
	// A message once declined as "issuer unavailable" is voided: a retry of
	// it gets the same answer, never a late approval.
	if _, err := s.voided.Get(r.Context(), req.MessageID); err == nil {
		mesh.WriteJSON(w, http.StatusOK, unavailable)
		return nil
	}
	var resp cardprocessing.AuthResponse
	err = s.cp.Do(r.Context(), mesh.Call{Method: http.MethodPost, Path: "/v1/authorise", Body: req,
		IdempotencyKey: cardprocessing.AuthKey(req.MessageID), Timeout: Deadline}, &resp)
	if err == nil && resp.Code != balance.CodeIssuerUnavailable {
		mesh.WriteJSON(w, http.StatusOK, resp)
		return nil
	}
	// No answer, or "issuer unavailable": record the decline, make sure the
	// authorisation can never apply, then answer. If either cannot be done
	// the outcome is unknown and the network gets no clean answer.
	ctx := context.WithoutCancel(r.Context())
	if _, verr := s.voided.Put(ctx, req.MessageID, []byte(balance.CodeIssuerUnavailable)); verr != nil {
		return errors.Join(err, verr)
	}
	if qerr := cardprocessing.QueueVoid(ctx, s.p.JS, req.MessageID, req.CardID); qerr != nil {
		return errors.Join(err, qerr)
	}
	resp = unavailable
	mesh.WriteJSON(w, http.StatusOK, resp)
	return nil
}
