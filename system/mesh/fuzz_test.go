package mesh_test

import (
	"errors"
	"testing"

	"github.com/faultline/faultline/system/mesh"
)

// FuzzDecode: any body either decodes, with keys that are exactly the
// fields' names, or is refused with a 400 *Error; never a panic.
func FuzzDecode(f *testing.F) {
	type inner struct {
		ID string `json:"id"`
	}
	type body struct {
		Amount int64             `json:"amount"`
		Inner  inner             `json:"inner"`
		List   []inner           `json:"list"`
		Tags   map[string]string `json:"tags"`
		Any    any               `json:"any"`
	}
	f.Add([]byte(`{"amount":1,"inner":{"id":"x"},"list":[{"id":"y"}],"tags":{"a":"b"},"any":{"Z":[1,{"q":2}]}}`))
	f.Add([]byte(`{"AMOUNT":1}`))
	f.Add([]byte(`{"list":[{"ID":"y"}]}`))
	f.Add([]byte(`{"amount":1}{"amount":2}`))
	f.Add([]byte("\xff\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v body
		err := mesh.DecodeBytes(b, &v)
		if err == nil {
			return
		}
		var me *mesh.Error
		if !errors.As(err, &me) || me.Status != 400 {
			t.Fatalf("error is not a 400 *mesh.Error: %v", err)
		}
	})
}
