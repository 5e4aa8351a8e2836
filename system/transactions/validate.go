package transactions

import (
	"net/http"
	"regexp"

	"github.com/faultline/faultline/system/mesh"
)

// CodeBadEntry (422) refuses an append that does not follow from the
// account's previous entry: a balance that does not add up, a changed
// overdraft limit or customer, a debit below the limit.
const CodeBadEntry = "bad_entry"

// ValidID matches account, card, customer and merchant ids: they become
// store subjects and keys, so only a safe alphabet is allowed.
var ValidID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// ValidKey matches idempotency keys and refs: they become ledger message
// IDs and travel in headers.
var ValidKey = regexp.MustCompile(`^[A-Za-z0-9:/_-]{1,160}$`)

// validateEntry checks an entry's own fields: a known kind that may be
// appended (openings are written by the seeder, straight into the store,
// never through this route), the sign that kind requires, and keys and ids
// in their alphabets.
func validateEntry(e Entry) error {
	switch {
	case !ValidKey.MatchString(e.Key):
		return mesh.Errorf(400, "bad_key", "key must be 1-160 of [A-Za-z0-9:/_-]")
	case !ValidID.MatchString(e.Account):
		return mesh.Errorf(400, "bad_account", "invalid account id")
	case !ValidKey.MatchString(e.Ref):
		return mesh.Errorf(400, "bad_ref", "ref must be 1-160 of [A-Za-z0-9:/_-]")
	case len(e.Counterparty) > 64:
		return mesh.Errorf(400, "bad_counterparty", "counterparty is longer than 64 bytes")
	case e.StandIn && e.Kind != KindCard:
		return mesh.Errorf(400, "bad_kind", "only a card debit is posted for a stand-in approval, not a %s entry", e.Kind)
	}
	var ok bool
	switch e.Kind {
	case KindCard, KindTransferOut:
		ok = e.Amount < 0
	case KindCardReverse, KindTransferIn:
		ok = e.Amount > 0
	case KindDeclined, KindCardVoid:
		ok = e.Amount == 0
	case KindOpening:
		return mesh.Errorf(400, "bad_kind", "accounts are opened by the seeder, not appended")
	default:
		return mesh.Errorf(400, "bad_kind", "unknown kind %q", e.Kind)
	}
	if !ok {
		return mesh.Errorf(400, "bad_amount", "a %s entry cannot move %d", e.Kind, e.Amount)
	}
	return nil
}

// follows checks that e continues prev, the account's last entry: the
// balance adds up, the limit and customer are the account's, and a debit
// stays within the limit, unless it posts a stand-in approval (Entry.StandIn),
// which was given already. The ledger makes no funds decision, but it keeps
// a chain that adds up whoever calls it.
func follows(prev, e Entry) error {
	switch {
	case e.BalanceAfter != prev.BalanceAfter+e.Amount:
		return mesh.Errorf(http.StatusUnprocessableEntity, CodeBadEntry, "balance_after %d does not follow %d%+d", e.BalanceAfter, prev.BalanceAfter, e.Amount)
	case e.Limit != prev.Limit || e.Customer != prev.Customer:
		return mesh.Errorf(http.StatusUnprocessableEntity, CodeBadEntry, "limit and customer are the account's: %d and %s", prev.Limit, prev.Customer)
	case e.Amount < 0 && e.BalanceAfter < -e.Limit && !e.StandIn:
		return mesh.Errorf(http.StatusUnprocessableEntity, CodeBadEntry, "a debit to %d goes below the limit of -%d", e.BalanceAfter, e.Limit)
	}
	return nil
}
