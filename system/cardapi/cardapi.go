// Package cardapi is the card network's entry point. It validates
// authorisation requests, passes them to card-processing within the
// network's deadline and always answers. Every answer is recorded before it
// is given, first answer wins, so a retried message gets the same answer.
//
// When card-processing cannot answer in time, or card-api is shedding load
// (admission.go), card-api stands in: it decides alone from its copies of
// the cards and balances, within caps, writes the answer to the stand-in
// journal kept on each store node, and answers; settlement posts or voids
// it once the store is back (standin.go, journal.go, settle.go). With
// stand-in off (BANK_STANDIN=off) it queues a void of the message and
// declines with "issuer unavailable", and its void worker makes sure that
// authorisation never moves money (unless an approval was recorded for it
// meanwhile). GET /v1/answers lists the recorded answers for audits (see
// AnswersPath).
package cardapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// AnswerWithin is the card network's deadline: card-api answers every
// authorisation within it while its store is healthy.
const AnswerWithin = time.Second

// ownWork is the part of AnswerWithin card-api keeps for its own store
// writes after card-processing has answered or run out of time (queueing a
// void, recording the answer): 20-130 ms measured under the suite's load.
const ownWork = 200 * time.Millisecond

// Deadline is how long card-processing has at most to answer: what is left
// of AnswerWithin after ownWork, less the time card-api spent looking up an
// earlier answer.
const Deadline = AnswerWithin - ownWork

// Bounds on card-api's own store operations, so that a store leader
// election delays an answer by at most their sum (with AnswerWithin, 1.5 s)
// instead of a client timeout: reading a previous answer (a miss just means
// asking card-processing, which is idempotent), queueing a void, recording
// the answer.
const (
	lookupTimeout = 150 * time.Millisecond
	voidTimeout   = 250 * time.Millisecond
	recordTimeout = 250 * time.Millisecond
)

type service struct {
	p       *process.Process
	key     []byte // the card network's (mac.go)
	cp      *mesh.Client
	answers jetstream.KeyValue // message id -> AuthResponse given
	admit   *mesh.Admission    // authorisations sent to card-processing at once
	standIn *standIn           // nil when stand-in is off (standin.go)
}

// Setup wires card-api into p.
func Setup(ctx context.Context, p *process.Process) error {
	key, err := keyFromEnv()
	if err != nil {
		return process.Fatal(err)
	}
	cp, err := p.Client("card-processing")
	if err != nil {
		return err
	}
	if _, err := store.EnsureStream(ctx, p.JS, store.VoidsStream); err != nil {
		return err
	}
	answers, err := p.KV(ctx, store.BucketAnswers)
	if err != nil {
		return err
	}
	s := &service{p: p, key: key, cp: cp, answers: answers, admit: newAdmission()}
	if standInOn() {
		if s.standIn, err = startStandIn(ctx, p, s.settle); err != nil {
			return err
		}
	}
	p.Handle("POST /v1/authorisations", s.serveAuthorisation)
	p.Handle("GET "+AnswersPath, s.serveAnswers)
	p.Go(func(ctx context.Context) { p.Consume(ctx, store.VoidsStream, "card-voids", "", s.processVoid) })
	// The network's deadline is AnswerWithin; the longest route is the
	// answers list (AnswersPath), which the audit asks for with 15 s.
	p.Server.ClampDeadlines(20 * time.Second)
	return nil
}

// DecodeAuth reads and validates an authorisation request
// (cardprocessing.Validate).
func DecodeAuth(r *http.Request) (cardprocessing.AuthRequest, error) {
	var req cardprocessing.AuthRequest
	if err := mesh.Decode(r, &req); err != nil {
		return req, err
	}
	return req, cardprocessing.Validate(req)
}

// decodeSigned is DecodeAuth for a request whose MAC must be right.
func (s *service) decodeSigned(r *http.Request) (cardprocessing.AuthRequest, error) {
	body, err := verified(s.key, r)
	if err != nil {
		return cardprocessing.AuthRequest{}, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return DecodeAuth(r)
}

func (s *service) serveAuthorisation(w http.ResponseWriter, r *http.Request) error {
	arrived := time.Now()
	req, err := s.decodeSigned(r)
	if err != nil {
		return err
	}
	digest := cardprocessing.Digest(req)
	lctx, lcancel := context.WithTimeout(r.Context(), lookupTimeout)
	// A lookup that fails is not an answer: the message goes on to
	// card-processing, whose idempotency gives a retry the first outcome.
	prev, ok, lerr := s.answered(lctx, req.MessageID)
	lcancel()
	if ok {
		give(w, prev, digest)
		return nil
	}
	if s.standIn != nil && (lerr != nil || s.standIn.mayHold()) {
		// An answer given while the store was away may be in the
		// journal only.
		if rec, found, _ := s.standIn.journal.read(r.Context(), req.MessageID); found {
			give(w, rec.Answer, digest)
			return nil
		}
	}
	ticket, admitted := s.admit.Admit()
	if !admitted {
		if s.standIn != nil {
			s.p.Metrics.Shed("authorise")
			return s.standInFor(w, r, req, digest, whyShed)
		}
		return s.shed(w, r, req, digest)
	}
	var resp cardprocessing.AuthResponse
	// card-processing gets what is left of the network's deadline once
	// card-api's own writes are kept aside; a slow lookup eats into it
	// rather than making the answer late.
	budget := min(Deadline, time.Until(arrived.Add(AnswerWithin-ownWork)))
	err = s.cp.Do(r.Context(), mesh.Call{Method: http.MethodPost, Path: "/v1/authorise", Body: req,
		IdempotencyKey: cardprocessing.AuthKey(req.MessageID), Timeout: budget}, &resp)
	ticket.Done(timedOut(err))
	if err == nil && resp.Code == cardprocessing.CodeDuplicate {
		// The message id is bound to another request, which holds its
		// answer: this one moved nothing, and its decline is not recorded.
		mesh.WriteJSON(w, http.StatusOK, resp)
		return nil
	}
	ctx := context.WithoutCancel(r.Context())
	if s.standIn != nil && (err != nil || resp.Code == balance.CodeIssuerUnavailable) {
		s.p.Log.Warn("card-processing gave no answer; standing in", "message_id", req.MessageID, "err", err, "code", resp.Code)
		return s.standInFor(w, r, req, digest, whyNoAnswer)
	}
	if err != nil {
		s.p.Log.Warn("card-processing gave no answer; declining and voiding", "message_id", req.MessageID, "err", err)
	}
	if err != nil || resp.Code == balance.CodeIssuerUnavailable {
		// No usable answer: make sure the authorisation cannot apply, then
		// decline. If the void cannot even be queued there is no clean
		// answer: the outcome stays unknown to the network.
		if qerr := s.queueVoid(ctx, req, digest); qerr != nil {
			return errors.Join(err, qerr)
		}
		resp = issuerUnavailable(req.MessageID)
	}
	resp.Digest = digest
	s.answer(ctx, w, req, resp)
	return nil
}

// answer records resp as the answer to its message, unless one is already
// recorded, and gives the network the answer that stands.
//
// The network is given only an answer that is recorded: its own record, or
// the one already standing, read back. The record is what the void worker
// reads before it reverses anything. An approval given but not recorded
// (the store in a leader election, say) could be reversed by the void of an
// earlier attempt at the same message, and the network would hold an
// approval the ledger does not. A decline given but not recorded could be
// the wrong answer as surely: an earlier attempt's approval may stand in
// the store (its own record timed out there but landed), and the void
// worker then skips the reversal, so the network holds a decline and the
// customer is charged. So when the record fails, the network gets no
// answer (503) and sends the message again; the retry reads the answer
// that stands, and balance's idempotency gives any new attempt the first
// outcome. With stand-in on, an answer whose record fails is written to
// the stand-in journal instead, which a store node's loss does not stop,
// and given; settlement records it later (settle.go).
func (s *service) answer(ctx context.Context, w http.ResponseWriter, req cardprocessing.AuthRequest, resp cardprocessing.AuthResponse) {
	rctx, rcancel := context.WithTimeout(ctx, recordTimeout)
	final, err := s.record(rctx, resp)
	rcancel()
	if err != nil && s.standIn != nil {
		rec := journalRecord{Request: req, Answer: resp, Replica: s.p.Instance, Time: time.Now()}
		if jerr := s.standIn.journal.write(ctx, rec); jerr == nil {
			s.standIn.wrote()
			give(w, resp, resp.Digest)
			return
		} else {
			err = errors.Join(err, jerr)
		}
	}
	if err != nil {
		s.p.Log.Warn("answer not recorded", "message_id", resp.MessageID, "approved", resp.Approved, "err", err)
		mesh.WriteError(w, mesh.Errorf(http.StatusServiceUnavailable, "answer_not_recorded",
			"the answer to %s could not be recorded; send the message again", resp.MessageID))
		return
	}
	give(w, final, resp.Digest)
}

// give writes the answer recorded for a message to the network: the answer
// itself when the request is the one it was recorded for (a retry), and
// "94 duplicate transmission" when the message id was first used for
// another request (another card, amount or merchant).
func give(w http.ResponseWriter, rec cardprocessing.AuthResponse, digest string) {
	if rec.Digest != "" && digest != "" && rec.Digest != digest {
		rec = cardprocessing.AuthResponse{MessageID: rec.MessageID, Code: cardprocessing.CodeDuplicate, Reason: "duplicate transmission"}
	}
	rec.Digest = ""
	mesh.WriteJSON(w, http.StatusOK, rec)
}

// shed declines req at once, as "issuer unavailable", without sending it to
// card-processing. This attempt moves no money, but an earlier attempt at
// the same message (one the network gave up on, on either replica) may
// still be applied late, so the void is queued as for any decline, before
// the answer is recorded; the void worker gets to it once the live traffic
// leaves room. If the void cannot be queued the network gets no answer
// (503) and retries.
func (s *service) shed(w http.ResponseWriter, r *http.Request, req cardprocessing.AuthRequest, digest string) error {
	s.p.Metrics.Shed("authorise")
	ctx := context.WithoutCancel(r.Context())
	if err := s.queueVoid(ctx, req, digest); err != nil {
		return mesh.Errorf(http.StatusServiceUnavailable, "overloaded", "card-api is shedding load and could not queue the void of its decline: %v", err)
	}
	s.answer(ctx, w, req, cardprocessing.AuthResponse{MessageID: req.MessageID, Code: balance.CodeIssuerUnavailable, Reason: ShedReason,
		Digest: digest})
	return nil
}

// issuerUnavailable is the decline card-api gives a message that got no
// usable answer, and that the void worker claims before it voids one.
func issuerUnavailable(messageID string) cardprocessing.AuthResponse {
	return cardprocessing.AuthResponse{MessageID: messageID, Code: balance.CodeIssuerUnavailable, Reason: "issuer unavailable"}
}

// timedOut reports whether a call failed for lack of time.
func timedOut(err error) bool {
	var ce *mesh.CallError
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ce) && ce.Timeout)
}

// answered returns the answer already given to messageID: found is false
// when none is recorded, and err says the store could not tell (which is
// not the same as no answer).
func (s *service) answered(ctx context.Context, messageID string) (prev cardprocessing.AuthResponse, found bool, err error) {
	_, err = store.GetJSON(ctx, s.answers, messageID, &prev)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return prev, false, nil
	case err != nil:
		return prev, false, err
	}
	return prev, true, nil
}

// record stores resp as the answer to its message unless one is already
// stored, and returns the answer that stands.
func (s *service) record(ctx context.Context, resp cardprocessing.AuthResponse) (cardprocessing.AuthResponse, error) {
	b, _ := json.Marshal(resp)
	_, err := s.answers.Create(ctx, resp.MessageID, b)
	if err == nil {
		return resp, nil
	}
	if store.IsConflict(err) {
		if prev, ok, _ := s.answered(ctx, resp.MessageID); ok {
			return prev, nil
		}
	}
	return resp, fmt.Errorf("record answer to %s: %w", resp.MessageID, err)
}

// queueVoid queues the void of req (of the given digest), within
// voidTimeout.
func (s *service) queueVoid(ctx context.Context, req cardprocessing.AuthRequest, digest string) error {
	ctx, cancel := context.WithTimeout(ctx, voidTimeout)
	defer cancel()
	b, _ := json.Marshal(cardprocessing.Void{MessageID: req.MessageID, CardID: req.CardID, Digest: digest})
	if _, err := s.p.JS.Publish(ctx, "voids."+req.CardID, b, jetstream.WithMsgID("void:"+req.MessageID)); err != nil {
		return fmt.Errorf("queue void of %s: %w", req.MessageID, err)
	}
	return nil
}

// processVoid voids one authorisation through card-processing, unless the
// answer recorded for it is an approval (a concurrent attempt won).
//
// It claims the answer first: it records the decline ("issuer unavailable",
// what the attempt that queued the void answered) unless an answer is
// already recorded. The record is a create on the stream's leader, so the
// claim and an approval's record cannot both succeed: once the void holds
// the answer, a later attempt that is approved answers the decline that
// stands, and the void reverses its debit. A plain read would not do: a
// store replica that lags can say "no answer" for an approval the network
// already has (seen under store node kills: two approvals reversed).
func (s *service) processVoid(ctx context.Context, m jetstream.Msg) error {
	var v cardprocessing.Void
	if err := json.Unmarshal(m.Data(), &v); err != nil {
		return nil
	}
	claim := issuerUnavailable(v.MessageID)
	claim.Digest = v.Digest
	if s.standIn != nil {
		// An answer given while the store was away, in the journal only,
		// is the answer that stands, not the claim.
		rec, found, err := s.standIn.journal.read(ctx, v.MessageID)
		switch {
		case err != nil:
			return fmt.Errorf("void of %s: read the stand-in journals: %w", v.MessageID, err)
		case found:
			claim = rec.Answer
		}
	}
	standing, err := s.record(ctx, claim)
	if err != nil {
		// The answer given cannot be settled: voiding now could reverse an
		// approval the network already has. The void waits and is tried
		// again.
		return fmt.Errorf("void of %s: settle the answer given: %w", v.MessageID, err)
	}
	if standing.Approved {
		s.p.Log.Warn("void skipped: the message was approved", "message_id", v.MessageID)
		return nil
	}
	// Voids are background work: they give way to live authorisations.
	s.admit.WaitQuiet(ctx, voidPatience)
	err = s.cp.Do(ctx, mesh.Call{Method: http.MethodPost, Path: "/v1/void", IdempotencyKey: "void:" + v.MessageID, Body: v}, nil)
	if err != nil {
		// Money stays moved for a declined authorisation until its void
		// succeeds: worth an operator's eye, unlike most retried messages.
		s.p.Log.Warn("void failed; it is retried later", "message_id", v.MessageID, "err", err)
	}
	return err
}
