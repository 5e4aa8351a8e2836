// Package support is "contacting us": customers' chat messages to support,
// kept in a replicated stream, one subject per customer.
package support

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// Message is one chat message.
type Message struct {
	Customer string    `json:"customer"`
	Text     string    `json:"text"`
	Time     time.Time `json:"time"`
	Seq      uint64    `json:"seq,omitempty"`
}

// MaxText is the longest message accepted.
const MaxText = 2000

type service struct {
	p  *process.Process
	st jetstream.Stream
}

// Setup wires support into p.
func Setup(ctx context.Context, p *process.Process) error {
	st, err := store.EnsureStream(ctx, p.JS, store.SupportStr)
	if err != nil {
		return err
	}
	s := &service{p: p, st: st}
	p.Handle("POST /v1/customers/{c}/messages", s.post)
	p.Handle("GET /v1/customers/{c}/messages/last", s.last)
	return nil
}

func (s *service) post(w http.ResponseWriter, r *http.Request) error {
	c, err := mesh.OwnCustomer(r)
	if err != nil {
		return err
	}
	var m Message
	if err := mesh.Decode(r, &m); err != nil {
		return err
	}
	if strings.TrimSpace(m.Text) == "" || len(m.Text) > MaxText {
		return mesh.Errorf(400, "bad_text", "text must be 1-%d bytes", MaxText)
	}
	if !PlainText(m.Text) {
		return mesh.Errorf(400, "bad_text", "text must be UTF-8 without control characters (newlines and tabs allowed)")
	}
	m.Customer, m.Time = c, time.Now().UTC()
	b, _ := json.Marshal(m)
	opts := []jetstream.PublishOpt{}
	if k := r.Header.Get(mesh.HeaderIdempotency); k != "" {
		opts = append(opts, jetstream.WithMsgID(c+"/"+k))
	}
	ack, err := s.p.JS.Publish(r.Context(), "support."+c, b, opts...)
	if err != nil {
		return err
	}
	m.Seq = ack.Sequence
	mesh.WriteJSON(w, http.StatusCreated, m)
	return nil
}

func (s *service) last(w http.ResponseWriter, r *http.Request) error {
	c, err := mesh.OwnCustomer(r)
	if err != nil {
		return err
	}
	raw, err := s.st.GetLastMsgForSubject(r.Context(), "support."+c)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return mesh.Errorf(404, "no_messages", "no messages yet")
	}
	if err != nil {
		return err
	}
	var m Message
	_ = json.Unmarshal(raw.Data, &m)
	m.Seq = raw.Sequence
	mesh.WriteJSON(w, 200, m)
	return nil
}

// PlainText reports whether s is valid UTF-8 with no control characters
// but newline and tab: an agent's terminal or browser must not be steered
// by what a customer typed (escape sequences, NUL).
func PlainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}
