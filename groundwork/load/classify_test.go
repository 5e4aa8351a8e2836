package load

import (
	"testing"

	"github.com/stretchr/testify/assert"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/system/cardapi"
)

func TestCardAuthAnswersAreClassified(t *testing.T) {
	for _, c := range []struct {
		body    string
		outcome history.Outcome
		result  string
		err     string
	}{
		{`{"code":"00","reason":"approved"}`, history.OK, "00", ""},
		{`{"code":"51","reason":"insufficient funds"}`, history.OK, "51", ""},
		{`{"code":"91","reason":"issuer unavailable"}`, history.Fail, "91", ""},
		{`{"code":"91","reason":"` + cardapi.ShedReason + `"}`, history.Fail, "91", ErrShed},
		{`not json`, history.Unknown, "unreadable", ""},
	} {
		res := &vegeta.Result{Code: 200, Body: []byte(c.body)}
		o, r := classifyCardAuth(res)
		assert.Equal(t, c.outcome, o, c.body)
		assert.Equal(t, c.result, r, c.body)
		assert.Equal(t, c.err, res.Error, c.body)
	}
}
