package balance

import (
	"context"
	"net/http"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/transactions"
)

// StandInSuffix ends the ledger key of a stand-in approval posted under a
// key of its own: the authorisation's key already held a decline, a void
// marker or a reversed debit from an attempt the stand-in answer replaced.
const StandInSuffix = ":standin"

func (s *service) serveStandIn(w http.ResponseWriter, r *http.Request) error {
	var req ReserveRequest
	if err := mesh.Decode(r, &req); err != nil {
		return err
	}
	if err := validateReserve(req); err != nil {
		return err
	}
	if req.Kind != transactions.KindCard {
		return mesh.Errorf(http.StatusBadRequest, "bad_kind", "only a card authorisation is approved by stand-in")
	}
	out, err := s.postStandIn(r.Context(), req)
	if err != nil {
		return err
	}
	mesh.WriteJSON(w, http.StatusOK, out)
	return nil
}

// postStandIn makes the ledger hold exactly one debit for req, an
// authorisation card-api approved alone while the store was unavailable
// (docs/BANK.md, "Stand-in"). The approval has been given, so the debit is
// posted without a funds decision, below the account's limit if need be
// (transactions.Entry.StandIn). Safe to repeat:
//
//   - If the authorisation's key is free, the debit takes it, and an
//     earlier attempt that lands later finds it there.
//   - If an earlier attempt's debit holds it, that debit is the posting,
//     unless a void reversed it (the outcome store says declined).
//   - Otherwise (a decline marker, a void marker, a reversed debit), the
//     debit is posted under the key plus StandInSuffix, with the same ref.
//
// Either way the key's outcome becomes the approval.
func (s *service) postStandIn(ctx context.Context, req ReserveRequest) (Outcome, error) {
	e := transactions.Entry{Key: req.Key, Account: req.Account, Amount: req.Amount, Kind: transactions.KindCard,
		Counterparty: req.Counterparty, Ref: req.Ref, Merchant: req.Merchant, StandIn: true}
	always := func(Balance) bool { return true }
	stored, dup, err := s.apply(ctx, e, always)
	if err != nil {
		return Outcome{}, err
	}
	if dup {
		posted, err := s.postedBy(ctx, req, stored)
		if err != nil {
			return Outcome{}, err
		}
		if !posted {
			e.Key = req.Key + StandInSuffix
			if stored, _, err = s.apply(ctx, e, always); err != nil {
				return Outcome{}, err
			}
		}
	}
	o := Outcome{Key: req.Key, Status: Approved, Code: CodeApproved, BalanceAfter: stored.BalanceAfter, Seq: stored.Seq, Digest: digest(req)}
	if err := s.overwrite(ctx, o); err != nil {
		return Outcome{}, err
	}
	return o, nil
}

// postedBy reports whether stored, the entry an earlier attempt left under
// req's key, already is req's debit.
func (s *service) postedBy(ctx context.Context, req ReserveRequest, stored transactions.Entry) (bool, error) {
	switch {
	case stored.Account != req.Account || (stored.Kind == transactions.KindCard && stored.Amount != req.Amount):
		return false, keyReused(req.Key)
	case stored.Kind != transactions.KindCard:
		return false, nil // declined or voided before it applied
	}
	// A void writes "declined" to the outcome store before it reverses a
	// debit, so an approved or absent outcome means the debit stands.
	o, ok, err := s.outcome(ctx, req.Key)
	if err != nil {
		return false, err
	}
	return !ok || o.Status == Approved, nil
}
