package balance

import (
	"context"
	"net/http"
	"strings"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/transactions"
)

func (s *service) serveVoid(w http.ResponseWriter, r *http.Request) error {
	var req VoidRequest
	if err := mesh.Decode(r, &req); err != nil {
		return err
	}
	if err := validateVoid(req); err != nil {
		return err
	}
	if req.Ref == "" {
		req.Ref = strings.TrimPrefix(req.Key, "auth:") // the message id, as the ledger needs a ref
	}
	resp, err := s.void(r.Context(), req)
	if err != nil {
		return err
	}
	mesh.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// void makes authorisation req.Key have no effect. It appends a zero-amount
// void marker under the authorisation's own key: if the authorisation had not
// reached the ledger, the marker takes its key and the authorisation can
// never apply; if it had, the ledger answers with it and a reversal credit is
// appended under a key of its own. Safe to repeat.
func (s *service) void(ctx context.Context, req VoidRequest) (VoidResponse, error) {
	marker := transactions.Entry{Key: req.Key, Account: req.Account, Kind: transactions.KindCardVoid, Ref: req.Ref}
	stored, _, err := s.apply(ctx, marker, func(Balance) bool { return true })
	if err != nil {
		return VoidResponse{}, err
	}
	if stored.Kind != transactions.KindCard || stored.Amount == 0 {
		s.remember(outcomeOf(stored))
		return VoidResponse{}, nil
	}
	// The key's outcome becomes "declined" before the reversal is written, so
	// that a retried authorisation never reports an approval that was undone.
	// It keeps the digest of the request that used the key, if known.
	first, _, _ := s.outcome(ctx, req.Key)
	if err := s.overwrite(ctx, Outcome{Key: req.Key, Status: Declined, Code: CodeIssuerUnavailable, BalanceAfter: stored.BalanceAfter, Digest: first.Digest}); err != nil {
		return VoidResponse{}, err
	}
	// The reversal credits the account the authorisation charged, as the
	// ledger holds it, whatever account the request named.
	rev := transactions.Entry{Key: req.Key + ":reverse", Account: stored.Account, Amount: -stored.Amount,
		Kind: transactions.KindCardReverse, Counterparty: stored.Counterparty, Ref: stored.Ref}
	if _, _, err := s.apply(ctx, rev, func(Balance) bool { return true }); err != nil {
		return VoidResponse{}, err
	}
	return VoidResponse{Reversed: true}, nil
}
