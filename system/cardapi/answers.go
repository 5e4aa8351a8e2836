package cardapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/cardprocessing"
)

// AnswersPath is card-api's read-only list of the answers it has recorded,
// one per network message (GET). It is for auditing, not for the network:
// the harness compares every answer with the ledger once the bank has
// drained.
//
// The body is newline-delimited JSON: one cardprocessing.AuthResponse per
// line, in the order they were recorded, then one AnswersEnd line. A body
// without its AnswersEnd line, or whose count differs from the answers
// before it, was cut short and must not be taken for the whole list. The
// list is read from the store as it is when the request arrives; answers
// recorded meanwhile may or may not be in it. It can be long (every message
// since the bank was seeded): callers should send a generous X-Deadline-Ms.
const AnswersPath = "/v1/answers"

// AnswersEnd is the last line of the AnswersPath list.
type AnswersEnd struct {
	End   bool `json:"end"`   // always true
	Count int  `json:"count"` // answers listed before this line
}

// AnswerLine decodes any line of the AnswersPath list: an answer, or (End
// set) the end line.
type AnswerLine struct {
	cardprocessing.AuthResponse
	AnswersEnd
}

// serveAnswers streams every recorded answer. Once the first byte is out an
// error can no longer change the status, so it cuts the list short (no end
// line), which the reader must treat as a failed read.
func (s *service) serveAnswers(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	watch, err := s.answers.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("list recorded answers: %w", err)
	}
	defer func() { _ = watch.Stop() }()
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case e, ok = <-watch.Updates():
		case <-ctx.Done():
		}
		switch {
		case !ok:
			s.p.Log.Warn("answers list cut short", "after", n, "err", ctx.Err())
			return bw.Flush()
		case e == nil: // every answer recorded so far has been listed
			if err := enc.Encode(AnswersEnd{End: true, Count: n}); err != nil {
				return nil // the client is gone
			}
			return bw.Flush()
		}
		var a cardprocessing.AuthResponse
		if err := json.Unmarshal(e.Value(), &a); err != nil {
			s.p.Log.Warn("answers list cut short: unreadable answer", "key", e.Key(), "err", err)
			return bw.Flush()
		}
		if a.MessageID == "" {
			a.MessageID = e.Key()
		}
		if err := enc.Encode(a); err != nil {
			return nil // the client is gone
		}
		n++
	}
}

// ReadAnswers decodes an AnswersPath body. It fails, rather than return
// part of the list, if a line is not an answer or the end line, or if the
// end line is missing or counts differently.
func ReadAnswers(r io.Reader) ([]cardprocessing.AuthResponse, error) {
	dec := json.NewDecoder(r)
	var out []cardprocessing.AuthResponse
	for {
		var l AnswerLine
		err := dec.Decode(&l)
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read answers: cut short after %d answers (no end line)", len(out))
		}
		if err != nil {
			return nil, fmt.Errorf("read answers: after %d answers: %w", len(out), err)
		}
		if l.End {
			if l.Count != len(out) {
				return nil, fmt.Errorf("read answers: read %d answers, the end line counts %d", len(out), l.Count)
			}
			return out, nil
		}
		if l.MessageID == "" {
			return nil, fmt.Errorf("read answers: line %d is neither an answer nor the end", len(out)+1)
		}
		out = append(out, l.AuthResponse)
	}
}
