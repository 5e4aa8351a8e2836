package balance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/transactions"
)

// CodeKeyReused (422) refuses a request whose idempotency key was first used
// for a different request: another account, amount, kind or counterparty.
// A retry carries the same request; a reused key is a second transaction
// and must not be answered with the first one's outcome.
const CodeKeyReused = "key_reused"

// validKey matches idempotency keys and refs (transactions.ValidKey).
var validKey = transactions.ValidKey

// validateReserve checks a reserve's fields, and that its amount has the
// sign its kind requires: the route is internal, but it moves money, so it
// trusts no caller to have checked.
func validateReserve(req ReserveRequest) error {
	switch {
	case !validKey.MatchString(req.Key):
		return mesh.Errorf(400, "bad_key", "key must be 1-160 of [A-Za-z0-9:/_-]")
	case !ValidID.MatchString(req.Account):
		return mesh.Errorf(400, "bad_account", "invalid account id")
	case req.Amount == 0 || req.Amount > MaxAmount || req.Amount < -MaxAmount:
		return mesh.Errorf(400, "bad_amount", "amount must be non-zero and within %d minor units", MaxAmount)
	case !validKey.MatchString(req.Ref):
		return mesh.Errorf(400, "bad_ref", "ref must be 1-160 of [A-Za-z0-9:/_-]")
	}
	switch req.Kind {
	case transactions.KindCard:
		m := req.Merchant
		switch {
		case req.Amount > 0:
			return mesh.Errorf(400, "bad_amount", "card spend is a debit: its amount must be negative")
		case m == nil || !ValidID.MatchString(m.ID) || req.Counterparty != "merchant:"+m.ID:
			return mesh.Errorf(400, "bad_counterparty", "card spend names its merchant, as counterparty merchant:<id>")
		}
	case transactions.KindTransferOut, transactions.KindTransferIn:
		switch {
		case req.Kind == transactions.KindTransferOut && req.Amount > 0:
			return mesh.Errorf(400, "bad_amount", "a transfer-out is a debit: its amount must be negative")
		case req.Kind == transactions.KindTransferIn && req.Amount < 0:
			return mesh.Errorf(400, "bad_amount", "a transfer-in is a credit: its amount must be positive")
		case !ValidID.MatchString(req.Counterparty) || req.Counterparty == req.Account:
			return mesh.Errorf(400, "bad_counterparty", "a transfer's counterparty is another valid account")
		case req.Merchant != nil:
			return mesh.Errorf(400, "bad_merchant", "a transfer has no merchant")
		}
	default:
		return mesh.Errorf(400, "bad_kind", "kind %q cannot be reserved", req.Kind)
	}
	return nil
}

// validateVoid checks a void's fields: only card authorisations are voided.
func validateVoid(req VoidRequest) error {
	switch {
	case !validKey.MatchString(req.Key) || !strings.HasPrefix(req.Key, "auth:"):
		return mesh.Errorf(400, "bad_key", "only an authorisation's key (auth:<message id>) can be voided")
	case !ValidID.MatchString(req.Account):
		return mesh.Errorf(400, "bad_account", "invalid account id")
	case req.Ref != "" && !validKey.MatchString(req.Ref):
		return mesh.Errorf(400, "bad_ref", "ref must be 1-160 of [A-Za-z0-9:/_-]")
	}
	return nil
}

// digest identifies what a reserve asks for, so that its key is bound to
// it (Outcome.Digest).
func digest(req ReserveRequest) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s\x00%s", req.Account, req.Amount, req.Kind, req.Counterparty))
	return hex.EncodeToString(h[:12])
}

// sameRequest reports whether e, the entry the ledger holds under req's
// key, was written for req: a retry. An entry for another account, amount
// or counterparty means the key was reused.
func sameRequest(req ReserveRequest, e transactions.Entry) bool {
	if e.Account != req.Account {
		return false
	}
	switch e.Kind {
	case req.Kind:
		return e.Amount == req.Amount && e.Counterparty == req.Counterparty
	case transactions.KindDeclined: // the request, declined: its amount is not kept
		return e.Counterparty == req.Counterparty
	case transactions.KindCardVoid: // an authorisation voided before it applied
		return req.Kind == transactions.KindCard
	}
	return false
}

// keyReused is the refusal of a reused key.
func keyReused(key string) error {
	return mesh.Errorf(http.StatusUnprocessableEntity, CodeKeyReused, "key %s was used for a different request", key)
}
