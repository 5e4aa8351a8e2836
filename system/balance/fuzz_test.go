package balance

import (
	"errors"
	"testing"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/transactions"
)

// FuzzReserveRequest: any body sent to /v1/reserve is refused with a 4xx,
// or is a reserve whose amount has its kind's sign: nothing a caller sends
// turns a debit into a credit.
func FuzzReserveRequest(f *testing.F) {
	f.Add([]byte(`{"key":"auth:m1","account":"a00001","amount":-100,"kind":"card","counterparty":"merchant:m001","ref":"m1","merchant":{"id":"m001","name":"Shop"}}`))
	f.Add([]byte(`{"key":"auth:m1","account":"a00001","amount":500000,"kind":"card","counterparty":"merchant:m001","ref":"m1","merchant":{"id":"m001"}}`))
	f.Add([]byte(`{"key":"pay:c/k:in","account":"a00002","amount":100,"kind":"transfer-in","counterparty":"a00001","ref":"c/k"}`))
	f.Add([]byte(`{"key":"open:x","account":"a00001","amount":1,"kind":"opening","ref":"x"}`))
	f.Add([]byte(`{"KEY":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req ReserveRequest
		err := mesh.DecodeBytes(body, &req)
		if err == nil {
			err = validateReserve(req)
		}
		if err != nil {
			var me *mesh.Error
			if !errors.As(err, &me) || me.Status < 400 || me.Status > 499 {
				t.Fatalf("error is not a 4xx *mesh.Error: %v", err)
			}
			return
		}
		credit := req.Amount > 0
		switch {
		case req.Kind == transactions.KindTransferIn && !credit,
			req.Kind != transactions.KindTransferIn && credit:
			t.Fatalf("accepted a %s of %d", req.Kind, req.Amount)
		}
	})
}
