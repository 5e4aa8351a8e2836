// Package emoji keeps customers' emoji reactions to their transactions.
package emoji

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// Allowed is the set of reactions accepted.
var Allowed = map[string]bool{"👍": true, "❤️": true, "😂": true, "😮": true, "😢": true, "🍕": true, "☕": true, "🎉": true}

// Reaction is a customer's reaction to a transaction.
type Reaction struct {
	Transaction string `json:"transaction"`
	Emoji       string `json:"emoji"`
}

type service struct{ kv jetstream.KeyValue }

// Setup wires emoji into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketEmoji)
	if err != nil {
		return err
	}
	s := &service{kv: kv}
	p.Handle("PUT /v1/customers/{c}/reactions", s.put)
	return nil
}

func (s *service) put(w http.ResponseWriter, r *http.Request) error {
	c, err := mesh.OwnCustomer(r)
	if err != nil {
		return err
	}
	var re Reaction
	if err := mesh.Decode(r, &re); err != nil {
		return err
	}
	if err := Validate(re); err != nil {
		return err
	}
	key := fmt.Sprintf("%s.%x", c, sha256.Sum256([]byte(re.Transaction)))
	if err := store.PutJSON(r.Context(), s.kv, key, re); err != nil {
		return err
	}
	mesh.WriteJSON(w, 200, re)
	return nil
}

// Validate checks a reaction: a transaction id of 1-128 printable ASCII
// bytes without spaces, and one of the allowed emoji.
func Validate(re Reaction) error {
	if re.Transaction == "" || len(re.Transaction) > 128 || !mesh.HeaderSafe(re.Transaction) || !Allowed[re.Emoji] {
		return mesh.Errorf(400, "bad_reaction", "a transaction id (1-128 printable ASCII bytes) and one of the allowed emoji are required")
	}
	return nil
}
