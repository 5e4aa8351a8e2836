package transactions

import (
	"errors"
	"testing"

	"github.com/faultline/faultline/system/mesh"
)

// FuzzAppendRequest: any body sent to the ledger's append is refused with
// a 4xx, or is an entry of a kind that may be appended, with that kind's
// sign, that follows the account's previous entry.
func FuzzAppendRequest(f *testing.F) {
	f.Add([]byte(`{"entry":{"key":"auth:m1","account":"a00001","customer":"c00001","amount":-100,"balance_after":900,"limit":0,"kind":"card","ref":"m1"},"expected_seq":3}`))
	f.Add([]byte(`{"entry":{"key":"open:a","account":"a00001","amount":100,"balance_after":100,"kind":"opening","ref":"open:a"},"expected_seq":0}`))
	f.Add([]byte(`{"entry":{"key":"x","account":"a00001","amount":0,"balance_after":1000,"kind":"declined","ref":"x"},"expected_seq":1}`))
	f.Add([]byte(`{"entry":{"key":"x","account":"a00001","amount":1,"balance_after":2000,"limit":50,"kind":"card-reverse","ref":"x"}}`))
	prev := Entry{Key: "open:a00001", Account: "a00001", Customer: "c00001", Amount: 1000, BalanceAfter: 1000, Kind: KindOpening}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req AppendRequest
		err := mesh.DecodeBytes(body, &req)
		if err == nil {
			err = validateEntry(req.Entry)
		}
		if err == nil {
			err = follows(prev, req.Entry)
		}
		if err != nil {
			var me *mesh.Error
			if !errors.As(err, &me) || me.Status < 400 || me.Status > 499 {
				t.Fatalf("error is not a 4xx *mesh.Error: %v", err)
			}
			return
		}
		e := req.Entry
		switch {
		case e.Kind == KindOpening:
			t.Fatalf("accepted an opening: %+v", e)
		case e.BalanceAfter != prev.BalanceAfter+e.Amount || e.Limit != prev.Limit || e.Customer != prev.Customer:
			t.Fatalf("accepted an entry that does not follow %+v: %+v", prev, e)
		case e.Amount < 0 && e.BalanceAfter < -e.Limit:
			t.Fatalf("accepted a debit below the limit: %+v", e)
		}
	})
}
