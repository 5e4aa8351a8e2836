package payments

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/transactions"
)

// ledgerMsg is a ledger entry as the settler receives it.
type ledgerMsg struct {
	jetstream.Msg
	data []byte
}

func (m ledgerMsg) Data() []byte { return m.data }

// A credit that balance refuses (any 4xx) must not be dropped: the
// transfer's debit would stand without its credit. The settler returns the
// error, so the entry stays queued and is delivered again.
func TestSettlerKeepsACreditBalanceRefused(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusConflict, http.StatusTooManyRequests} {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"code":"refused","message":"no"}`))
		}))
		s := &service{
			p:       &process.Process{Log: slog.New(slog.DiscardHandler)},
			balance: mesh.NewClient("balance", mesh.StaticResolver{strings.TrimPrefix(srv.URL, "http://")}, mesh.NewMetrics("payments")),
		}
		e, _ := json.Marshal(transactions.Entry{Key: "out:p1", Account: "a00001", Counterparty: "a00002", Amount: -500,
			Kind: transactions.KindTransferOut, Ref: "p1"})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.settle(ctx, ledgerMsg{data: e})
		cancel()
		srv.Close()
		assert.Error(t, err, "status %d: the refused credit was acknowledged (dropped)", status)
		assert.Positive(t, calls.Load(), "status %d: balance was not asked", status)
	}
}
