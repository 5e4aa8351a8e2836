// Package merchant serves merchant names, categories and logos, recorded by
// transaction-enrichment from what the card network tells us.
package merchant

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"

	"github.com/faultline/faultline/system/balance"
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

// Setup wires the merchant service into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketMerchants)
	if err != nil {
		return err
	}
	// The logos answer from the service's copy of the bucket while the
	// store cannot (a store node lost): a dozen records, seldom written.
	known := store.NewCopy[json.RawMessage]()
	p.Go(func(ctx context.Context) { known.Keep(ctx, kv, p.Log) })
	p.Handle("GET /v1/merchants/{id}", process.ServeKV(kv, known, "merchant", balance.ValidID.MatchString))
	return nil
}
