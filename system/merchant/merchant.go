// Package merchant serves merchant names, categories and logos, recorded by
// transaction-enrichment from what the card network tells us.
package merchant

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// Merchant is what the bank knows of a merchant.
type Merchant struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Category string `json:"category"`
	Logo     string `json:"logo"` // an SVG document
}

// Category maps a merchant category code to a feed category.
func Category(mcc string) string {
	switch mcc {
	case "5411", "5499":
		return "groceries"
	case "5812", "5814":
		return "eating out"
	case "4111", "4121":
		return "transport"
	case "5732", "5942":
		return "shopping"
	}
	return "general"
}

// Logo draws a small placeholder logo: the merchant's initial on a colour
// chosen from its name.
func Logo(name string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	initial := "?"
	if name != "" {
		initial = name[:1]
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" rx="6" fill="hsl(%d,55%%,45%%)"/><text x="16" y="22" font-size="16" text-anchor="middle" fill="#fff">%s</text></svg>`, h.Sum32()%360, initial)
}

type service struct{ kv jetstream.KeyValue }

// Setup wires the merchant service into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketMerchants)
	if err != nil {
		return err
	}
	s := &service{kv: kv}
	p.Handle("GET /v1/merchants/{id}", s.get)
	return nil
}

func (s *service) get(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !balance.ValidID.MatchString(id) {
		return mesh.Errorf(400, "bad_merchant", "invalid merchant id")
	}
	var m Merchant
	_, err := store.GetJSON(r.Context(), s.kv, id, &m)
	if errors.Is(err, store.ErrNotFound) {
		return mesh.Errorf(404, "unknown_merchant", "merchant %s not seen yet", id)
	}
	if err != nil {
		return err
	}
	mesh.WriteJSON(w, 200, m)
	return nil
}
