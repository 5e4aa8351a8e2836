// Package cards is the bank's card service: which account a card draws on,
// who owns it, and whether it is active or frozen.
package cards

import (
	"context"
	"errors"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// Card statuses.
const (
	Active = "active"
	Frozen = "frozen"
)

// Card is one debit card.
type Card struct {
	ID       string `json:"id"`
	Account  string `json:"account"`
	Customer string `json:"customer"`
	Status   string `json:"status"`
	Last4    string `json:"last4"`
}

// StatusRequest changes a card's status.
type StatusRequest struct {
	Status string `json:"status"`
}

type service struct{ kv jetstream.KeyValue }

// Setup wires the cards service into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketCards)
	if err != nil {
		return err
	}
	s := &service{kv: kv}
	p.Handle("GET /v1/cards/{id}", s.get)
	p.Handle("PUT /v1/cards/{id}/status", s.setStatus)
	return nil
}

func (s *service) load(ctx context.Context, id string) (Card, error) {
	if !balance.ValidID.MatchString(id) {
		return Card{}, mesh.Errorf(400, "bad_card", "invalid card id")
	}
	var c Card
	_, err := store.GetJSON(ctx, s.kv, id, &c)
	if errors.Is(err, store.ErrNotFound) {
		return c, mesh.Errorf(404, "unknown_card", "card %s does not exist", id)
	}
	return c, err
}

func (s *service) get(w http.ResponseWriter, r *http.Request) error {
	c, err := s.load(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if cu := r.Header.Get(mesh.HeaderCustomer); cu != "" && cu != c.Customer {
		return mesh.Errorf(403, "forbidden", "card %s is not yours", c.ID)
	}
	mesh.WriteJSON(w, 200, c)
	return nil
}

func (s *service) setStatus(w http.ResponseWriter, r *http.Request) error {
	var req StatusRequest
	if err := mesh.Decode(r, &req); err != nil {
		return err
	}
	if req.Status != Active && req.Status != Frozen {
		return mesh.Errorf(400, "bad_status", "status must be %q or %q", Active, Frozen)
	}
	c, err := s.load(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if cu := r.Header.Get(mesh.HeaderCustomer); cu == "" || cu != c.Customer {
		return mesh.Errorf(403, "forbidden", "card %s is not yours", c.ID)
	}
	c, err = store.UpdateJSON(r.Context(), s.kv, c.ID, false, func(c *Card) error {
		c.Status = req.Status
		return nil
	})
	if err != nil {
		return err
	}
	mesh.WriteJSON(w, 200, c)
	return nil
}
