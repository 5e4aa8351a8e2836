package cardapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/faultline/faultline/system/mesh"
)

// The card network signs every message it sends: HeaderMAC carries the
// hex HMAC-SHA256 of the body under the key it shares with the bank
// (KeyEnv, issued per run by the platform). A message without the right
// MAC did not come from the network and is refused before it is read.
const (
	HeaderMAC = "X-Card-Mac"
	KeyEnv    = "BANK_CARD_KEY" // hex, at least MinKeyBytes
	// MinKeyBytes is the shortest key card-api accepts.
	MinKeyBytes = 16
)

// Sign returns the MAC of body under key, as HeaderMAC carries it.
func Sign(key, body []byte) string { return hex.EncodeToString(mac(key, body)) }

func mac(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)
}

// keyFromEnv reads the network's key from KeyEnv.
func keyFromEnv() ([]byte, error) {
	key, err := hex.DecodeString(os.Getenv(KeyEnv))
	if err != nil || len(key) < MinKeyBytes {
		return nil, fmt.Errorf("card-api needs the card network's key in %s: hex, at least %d bytes", KeyEnv, MinKeyBytes)
	}
	return key, nil
}

// verified reads r's body and returns it if its MAC is right; otherwise a
// 401 *mesh.Error.
func verified(key []byte, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, mesh.MaxBody))
	if err != nil {
		return nil, mesh.Errorf(http.StatusBadRequest, "bad_body", "%v", err)
	}
	got, err := hex.DecodeString(r.Header.Get(HeaderMAC))
	if err != nil || !hmac.Equal(got, mac(key, body)) {
		return nil, mesh.Errorf(http.StatusUnauthorized, "bad_mac", "the message's %s is missing or wrong", HeaderMAC)
	}
	return body, nil
}
