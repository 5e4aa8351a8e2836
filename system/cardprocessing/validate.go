package cardprocessing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/mesh"
)

var validMessageID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate checks an authorisation request's fields. card-api checks every
// message from the network with it, and card-processing checks again: its
// route is internal, but an internal route that trusted its caller would let
// anything that reaches it turn a negative amount into a credit.
func Validate(req AuthRequest) error {
	switch {
	case !validMessageID.MatchString(req.MessageID):
		return mesh.Errorf(400, "bad_message_id", "message_id must be 1-64 of [A-Za-z0-9_-]")
	case !balance.ValidID.MatchString(req.CardID):
		return mesh.Errorf(400, "bad_card", "invalid card_id")
	case req.Amount <= 0 || req.Amount > balance.MaxAmount:
		return mesh.Errorf(400, "bad_amount", "amount must be between 1 and %d minor units", balance.MaxAmount)
	case req.Currency != "GBP":
		return mesh.Errorf(400, "bad_currency", "only GBP is accepted, got %q", req.Currency)
	case !balance.ValidID.MatchString(req.Merchant.ID) || len(req.Merchant.Name) > 100 || !printable(req.Merchant.Name) || len(req.Merchant.MCC) > 4:
		return mesh.Errorf(400, "bad_merchant", "merchant needs a valid id, a printable name of at most 100 bytes and an MCC of at most 4")
	}
	return nil
}

// ValidateVoid checks a void's fields.
func ValidateVoid(v Void) error {
	switch {
	case !validMessageID.MatchString(v.MessageID):
		return mesh.Errorf(400, "bad_message_id", "message_id must be 1-64 of [A-Za-z0-9_-]")
	case !balance.ValidID.MatchString(v.CardID):
		return mesh.Errorf(400, "bad_card", "invalid card_id")
	}
	return nil
}

// Digest identifies what an authorisation asks for: the card, amount,
// currency and merchant. A message id is bound to the digest of its first
// request; the same id with another digest is not a retry but a second
// transaction reusing the id, and is refused ("94 duplicate transmission").
func Digest(req AuthRequest) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s\x00%s", req.CardID, req.Amount, req.Currency, req.Merchant.ID))
	return hex.EncodeToString(h[:12])
}

// printable reports whether s has no control characters.
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}
