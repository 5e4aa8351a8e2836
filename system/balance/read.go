package balance

import (
	"context"
	"errors"
	"net/http"

	"github.com/faultline/faultline/system/mesh"
)

// serveBalance answers a customer's balance read (read).
func (s *service) serveBalance(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !ValidID.MatchString(id) {
		return mesh.Errorf(400, "bad_account", "invalid account id")
	}
	b, err := s.read(r.Context(), id)
	if err != nil {
		return err
	}
	if c := r.Header.Get(mesh.HeaderCustomer); c != "" && c != b.Customer {
		return mesh.Errorf(http.StatusForbidden, "forbidden", "account %s is not yours", id)
	}
	mesh.WriteJSON(w, http.StatusOK, b)
	return nil
}

// read returns account's balance: the projection's, the fast answer; the
// ledger's when the projection has no entry or does not answer within
// shortcutRead; and, when the ledger does not answer within readLedger
// either, the replica's copy of the projection, marked stale. A store
// node's loss leaves the projection's and the ledger's leaders silent for
// the seconds an election takes, while the copy is in memory. An account
// the ledger does not know is a 404, never the copy's.
func (s *service) read(ctx context.Context, account string) (Balance, error) {
	if b, err := s.projected(ctx, account); err == nil {
		return b, nil
	}
	lctx, cancel := context.WithTimeout(ctx, readLedger)
	b, err := s.current(lctx, account, true)
	cancel()
	var me *mesh.Error
	if err == nil || errors.As(err, &me) && me.Status == http.StatusNotFound {
		return b, err
	}
	if c, ok := s.copy.Get(account); ok {
		c.Stale = true
		return c, nil
	}
	return Balance{}, err
}
