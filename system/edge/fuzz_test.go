package edge_test

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/faultline/faultline/system/edge"
	"github.com/faultline/faultline/system/mesh"
)

// FuzzDecodePayment: any body is a payment request or a 4xx error.
func FuzzDecodePayment(f *testing.F) {
	f.Add([]byte(`{"from":"a00001","to":"a00002","amount":100,"currency":"GBP"}`))
	f.Add([]byte(`{"from":"a00001","to":"a00001","amount":-5,"currency":"GBP","reference":"x"}`))
	f.Add([]byte(`{"from":1}`))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v1/payments", bytes.NewReader(body))
		req, err := edge.DecodePayment(r)
		if err == nil {
			if req.Amount <= 0 || req.From == req.To || req.Currency != "GBP" {
				t.Fatalf("accepted an invalid payment: %+v", req)
			}
			return
		}
		var me *mesh.Error
		if !errors.As(err, &me) || me.Status < 400 || me.Status > 499 {
			t.Fatalf("error is not a 4xx *mesh.Error: %v", err)
		}
	})
}
