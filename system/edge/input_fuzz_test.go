package edge_test

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/faultline/faultline/system/emoji"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/support"
)

// FuzzCustomerText: a reaction is accepted only with a header-safe
// transaction id, and support text only as plain UTF-8; anything else is
// a 4xx.
func FuzzCustomerText(f *testing.F) {
	f.Add([]byte(`{"transaction":"auth:m1","emoji":"👍"}`), "hello\nthere")
	f.Add([]byte(`{"transaction":"x\r\n","emoji":"👍"}`), "hi\x00\x1b[2J")
	f.Add([]byte(`{"Transaction":"x","EMOJI":"👍"}`), "\xff")
	f.Fuzz(func(t *testing.T, body []byte, text string) {
		var re emoji.Reaction
		err := mesh.DecodeBytes(body, &re)
		if err == nil {
			err = emoji.Validate(re)
		}
		if err == nil {
			for i := 0; i < len(re.Transaction); i++ {
				if re.Transaction[i] <= ' ' || re.Transaction[i] >= 0x7f {
					t.Fatalf("accepted transaction id %q", re.Transaction)
				}
			}
		} else {
			var me *mesh.Error
			if !errors.As(err, &me) || me.Status < 400 || me.Status > 499 {
				t.Fatalf("error is not a 4xx *mesh.Error: %v", err)
			}
		}
		if support.PlainText(text) {
			if !utf8.ValidString(text) {
				t.Fatalf("accepted invalid UTF-8 %q", text)
			}
			for _, r := range text {
				if r < 0x20 && r != '\n' && r != '\t' {
					t.Fatalf("accepted control character %U in %q", r, text)
				}
			}
		}
	})
}
