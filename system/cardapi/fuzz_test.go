package cardapi_test

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/faultline/faultline/system/cardapi"
	"github.com/faultline/faultline/system/mesh"
)

// FuzzDecodeAuth: any body is either a valid authorisation or a 4xx error,
// never a panic or another kind of error.
func FuzzDecodeAuth(f *testing.F) {
	f.Add([]byte(`{"message_id":"m1","card_id":"k00001","amount":100,"currency":"GBP","merchant":{"id":"m001","name":"Shop"}}`))
	f.Add([]byte(`{"message_id":"m1","card_id":"K!","amount":-1,"currency":"EUR","merchant":{}}`))
	f.Add([]byte(`{"amount":1e400}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"message_id":"m1","x":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v1/authorisations", bytes.NewReader(body))
		req, err := cardapi.DecodeAuth(r)
		if err == nil {
			if req.Amount <= 0 || req.Currency != "GBP" || req.MessageID == "" {
				t.Fatalf("accepted an invalid request: %+v", req)
			}
			return
		}
		var me *mesh.Error
		if !errors.As(err, &me) || me.Status < 400 || me.Status > 499 {
			t.Fatalf("error is not a 4xx *mesh.Error: %v", err)
		}
	})
}
