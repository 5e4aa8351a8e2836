package cardapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/store/storetest"
)

// answersBucket starts a single in-process store node and returns an empty
// answers bucket on it, and the node.
func answersBucket(t testing.TB) (jetstream.KeyValue, *server.Server) {
	t.Helper()
	ns, js := storetest.Node(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: store.BucketAnswers, History: 1})
	require.NoError(t, err)
	return kv, ns
}

// listAnswers serves GET AnswersPath from a card-api over kv and returns
// the body.
func listAnswers(t testing.TB, kv jetstream.KeyValue) string {
	t.Helper()
	s := &service{p: &process.Process{Log: slog.New(slog.DiscardHandler)}, answers: kv}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w := httptest.NewRecorder()
	require.NoError(t, s.serveAnswers(w, httptest.NewRequestWithContext(ctx, "GET", AnswersPath, nil)))
	assert.Equal(t, 200, w.Code)
	return w.Body.String()
}

func TestAnswersListsEveryRecordedAnswer(t *testing.T) {
	kv, _ := answersBucket(t)

	got, err := ReadAnswers(strings.NewReader(listAnswers(t, kv)))
	require.NoError(t, err, "an empty list")
	assert.Empty(t, got)

	want := []cardprocessing.AuthResponse{
		{MessageID: "m1", Approved: true, Code: "00", Reason: "approved"},
		{MessageID: "m2", Code: "51", Reason: "insufficient funds"},
		{MessageID: "m3", Code: "91", Reason: "issuer unavailable"},
	}
	for _, a := range want {
		b, _ := json.Marshal(a)
		_, err := kv.Create(context.Background(), a.MessageID, b)
		require.NoError(t, err)
	}
	body := listAnswers(t, kv)

	got, err = ReadAnswers(strings.NewReader(body))
	require.NoError(t, err, body)
	assert.Equal(t, want, got)
	assert.Equal(t, len(want)+1, strings.Count(body, "\n"), "one line per answer, then the end line")
}

func TestReadAnswersRefusesAPartialList(t *testing.T) {
	const m1 = `{"message_id":"m1","approved":true,"code":"00","reason":"approved"}` + "\n"
	cases := map[string]string{
		"no end line":          m1,
		"an empty body":        "",
		"end counts more":      m1 + `{"end":true,"count":2}` + "\n",
		"a line cut in two":    m1 + `{"message_id":"m2","appr`,
		"an error, not answer": m1 + `{"code":"internal","detail":"store down"}` + "\n" + `{"end":true,"count":2}` + "\n",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ReadAnswers(strings.NewReader(body))
			assert.Error(t, err)
		})
	}
	got, err := ReadAnswers(strings.NewReader(m1 + `{"end":true,"count":1}` + "\n"))
	require.NoError(t, err)
	assert.Equal(t, []cardprocessing.AuthResponse{{MessageID: "m1", Approved: true, Code: "00", Reason: "approved"}}, got)
}
