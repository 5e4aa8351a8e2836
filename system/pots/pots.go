// Package pots keeps customers' savings pots (names and goals).
package pots

import (
	"context"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// Pot is a savings pot.
type Pot struct {
	Name string `json:"name"`
	Goal int64  `json:"goal"`
}

// Pots is a customer's pots.
type Pots struct {
	Pots []Pot `json:"pots"`
}

type service struct{ kv jetstream.KeyValue }

// Setup wires pots into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketPots)
	if err != nil {
		return err
	}
	s := &service{kv: kv}
	p.Handle("GET /v1/customers/{c}/pots", s.list)
	p.Handle("POST /v1/customers/{c}/pots", s.create)
	return nil
}

func (s *service) list(w http.ResponseWriter, r *http.Request) error {
	c, err := mesh.OwnCustomer(r)
	if err != nil {
		return err
	}
	ps := Pots{Pots: []Pot{}}
	if _, err := store.GetJSON(r.Context(), s.kv, c, &ps); err != nil && err != store.ErrNotFound {
		return err
	}
	mesh.WriteJSON(w, 200, ps)
	return nil
}

func (s *service) create(w http.ResponseWriter, r *http.Request) error {
	c, err := mesh.OwnCustomer(r)
	if err != nil {
		return err
	}
	var p Pot
	if err := mesh.Decode(r, &p); err != nil {
		return err
	}
	if strings.TrimSpace(p.Name) == "" || len(p.Name) > 60 || p.Goal < 0 {
		return mesh.Errorf(400, "bad_pot", "a name of 1-60 bytes and a non-negative goal are required")
	}
	ps, err := store.UpdateJSON(r.Context(), s.kv, c, true, func(ps *Pots) error {
		if len(ps.Pots) >= 20 {
			return mesh.Errorf(409, "too_many_pots", "at most 20 pots")
		}
		ps.Pots = append(ps.Pots, p)
		return nil
	})
	if err != nil {
		return err
	}
	mesh.WriteJSON(w, 201, ps)
	return nil
}
