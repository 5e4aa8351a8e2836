// Package profile keeps customers' profile pictures.
package profile

import (
	"context"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// MaxPicture is the largest picture accepted, decoded.
const MaxPicture = 48 << 10

// Picture is a profile picture.
type Picture struct {
	ContentType string    `json:"content_type"`
	Data        string    `json:"data"` // base64
	Updated     time.Time `json:"updated"`
}

type service struct{ kv jetstream.KeyValue }

// Setup wires profile into p.
func Setup(ctx context.Context, p *process.Process) error {
	kv, err := p.KV(ctx, store.BucketProfile)
	if err != nil {
		return err
	}
	s := &service{kv: kv}
	p.Handle("PUT /v1/customers/{c}/picture", s.put)
	return nil
}

func (s *service) put(w http.ResponseWriter, r *http.Request) error {
	c, err := mesh.OwnCustomer(r)
	if err != nil {
		return err
	}
	var pic Picture
	if err := mesh.Decode(r, &pic); err != nil {
		return err
	}
	if pic.ContentType != "image/png" && pic.ContentType != "image/jpeg" {
		return mesh.Errorf(400, "bad_type", "content_type must be image/png or image/jpeg")
	}
	raw, err := base64.StdEncoding.DecodeString(pic.Data)
	if err != nil || len(raw) == 0 || len(raw) > MaxPicture {
		return mesh.Errorf(400, "bad_picture", "data must be base64 of 1 to %d bytes", MaxPicture)
	}
	// The bytes must be what the type says: a picture served as image/png
	// that is really an SVG with a script would run in the app's pages.
	if got := http.DetectContentType(raw); got != pic.ContentType {
		return mesh.Errorf(400, "bad_picture", "data is %s, not %s", got, pic.ContentType)
	}
	pic.Updated = time.Now().UTC()
	if err := store.PutJSON(r.Context(), s.kv, c, pic); err != nil {
		return err
	}
	mesh.WriteJSON(w, 200, map[string]any{"customer": c, "bytes": len(raw), "updated": pic.Updated})
	return nil
}
