package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/transactions"
)

// TestOneReplicaWritesToAnAccountInTurn: debits of one account sent to one
// balance replica all at once take turns there, so each append meets a
// ledger that has not moved: the ledger refuses none of them as a conflict,
// and every debit is approved exactly once. (Racing instead, 24 concurrent
// debits cost the ledger dozens of conflicting appends and fresh reads,
// the loop that kept contended accounts declining for seconds after a
// fault.)
func TestOneReplicaWritesToAnAccountInTurn(t *testing.T) {
	p, d := bank(t)
	c := newClientAs(t, "card-processing")
	conflicts := func() float64 {
		var n float64
		for _, in := range p.Instances("transactions") {
			n += metricSum(t, p, in.Addr, mesh.MetricServerRequests, `code="409"`, `route="POST /v1/ledger/append"`)
		}
		return n
	}
	before := conflicts()
	account := d.Customers[47].Account
	url := "https://" + p.Instances("balance")[0].Addr + "/v1/reserve"
	const debits = 24
	var wg sync.WaitGroup
	outcomes := make([]balance.Outcome, debits)
	statuses := make([]int, debits)
	for i := range debits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("e2e-turns-%d", i)
			req := balance.ReserveRequest{Key: key, Account: account, Amount: -1, Kind: transactions.KindCard, Counterparty: "merchant:e2e", Ref: key,
				Merchant: &transactions.Merchant{ID: "e2e", Name: "e2e"}}
			var err error
			statuses[i], err = c.do(context.Background(), http.MethodPost, url, "", key, req, &outcomes[i])
			assert.NoError(t, err, key)
		}()
	}
	wg.Wait()
	raced := conflicts() - before
	t.Logf("%d debits of %s at once: %v appends refused as conflicting", debits, account, raced)
	assert.Zero(t, raced, "the ledger refused appends to %s as conflicting: the replica's writes raced", account)
	seqs := map[uint64]bool{}
	for i, o := range outcomes {
		require.Equal(t, http.StatusOK, statuses[i], "debit %d: %+v", i, o)
		assert.Equal(t, balance.Approved, o.Status, "debit %d", i)
		assert.False(t, seqs[o.Seq], "two debits got ledger entry %d", o.Seq)
		seqs[o.Seq] = true
	}
	a := audit(t, p)
	assert.True(t, a.OK, "the audit after the debits: %+v", a.Problems)
}
