package cardapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/mesh"
)

// settle makes the bank agree with one journal record (journal.go), once
// the store lets it; until then it fails and the record is delivered
// again. Each journal's copy of a record is settled on its own, and
// settling one twice does nothing more:
//
//  1. The record's answer is recorded, unless an answer is recorded
//     already: the first answer recorded stands, as for every answer.
//  2. If the answer that stands is for another request (the message id
//     reused), the record is of nothing.
//  3. If it is an approval, the ledger gets its one debit: card-processing
//     posts it as a stand-in approval, or finds the debit an attempt at it
//     made (balance.postStandIn).
//  4. If it is a decline, the authorisation is voided, so that no earlier
//     attempt at it applies, as for any decline card-api gives without
//     card-processing's answer.
func (s *service) settle(ctx context.Context, m jetstream.Msg) error {
	var rec journalRecord
	if err := json.Unmarshal(m.Data(), &rec); err != nil {
		s.p.Log.Error("stand-in record unreadable; dropped", "subject", m.Subject(), "err", err)
		return nil
	}
	standing, err := s.record(ctx, rec.Answer)
	if err != nil {
		return fmt.Errorf("settle %s: %w", rec.Request.MessageID, err)
	}
	if standing.Digest != "" && rec.Answer.Digest != "" && standing.Digest != rec.Answer.Digest {
		s.p.Log.Warn("stand-in record of another request under the message id; nothing to settle", "message_id", rec.Request.MessageID)
		return nil
	}
	if standing.Code != rec.Answer.Code {
		s.p.Log.Warn("stand-in answer superseded by one recorded first", "message_id", rec.Request.MessageID,
			"given", rec.Answer.Code, "standing", standing.Code)
	}
	if standing.Approved {
		err = s.cp.Do(ctx, mesh.Call{Method: http.MethodPost, Path: "/v1/standin",
			IdempotencyKey: cardprocessing.AuthKey(rec.Request.MessageID) + ":standin", Body: rec.Request}, nil)
	} else {
		err = s.cp.Do(ctx, mesh.Call{Method: http.MethodPost, Path: "/v1/void", IdempotencyKey: "void:" + rec.Request.MessageID,
			Body: cardprocessing.Void{MessageID: rec.Request.MessageID, CardID: rec.Request.CardID, Digest: rec.Answer.Digest}}, nil)
	}
	if err != nil {
		return fmt.Errorf("settle %s (%s): %w", rec.Request.MessageID, standing.Code, err)
	}
	return nil
}
