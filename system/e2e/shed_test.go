package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/cardapi"
	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/mesh"
)

// TestCardAPIShedsLoadWhenCardProcessingIsSlow: with every authorisation
// held 420 ms in card-processing, close to the 480 ms card-api's first try
// gets, waves of concurrent authorisations time out, card-api lowers its
// limit and answers the excess at once, standing in for card-processing
// (cardapi.StandInShedReason). A shed authorisation is answered long before
// card-processing could have answered, and once settlement has run, an
// approval has its one debit and a decline moved no money; card-api never
// stops sending on altogether.
func TestCardAPIShedsLoadWhenCardProcessingIsSlow(t *testing.T) {
	p, d := bank(t)
	c := newClient(t)
	fault := mesh.Fault{ID: "e2e-slow-card-processing", Route: "/v1/authorise", DelayRate: 1, DelayMs: 420}
	for _, in := range p.Instances("card-processing") {
		status, err := c.do(context.Background(), http.MethodPost, "https://"+in.Addr+"/admin/faults", p.AdminToken(), "", fault, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status, "inject the delay on %s", in.Name)
		t.Cleanup(func() {
			_, _ = c.do(context.Background(), http.MethodDelete, "https://"+in.Addr+"/admin/faults/"+fault.ID, p.AdminToken(), "", nil, nil)
		})
	}
	url := "https://" + p.Ingress("card-api")[0] + "/v1/authorisations"
	type answer struct {
		id, code, reason string
		wave             int
		took             time.Duration
	}
	var mu sync.Mutex
	var answers []answer
	for wave := range 5 {
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cust := d.Customers[loadCustomers+(wave*40+i)%loadCustomerCount]
				req := cardprocessing.AuthRequest{MessageID: fmt.Sprintf("shed-%d-%d", wave, i), CardID: cust.Card, Amount: 100, Currency: "GBP", Merchant: d.Merchants[i%len(d.Merchants)]}
				var resp cardprocessing.AuthResponse
				start := time.Now()
				status, err := c.do(context.Background(), http.MethodPost, url, "", "", req, &resp)
				a := answer{id: req.MessageID, wave: wave, took: time.Since(start)}
				if err == nil && status == http.StatusOK {
					a.code, a.reason = resp.Code, resp.Reason
				}
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	var shed, admitted []answer
	sentOn := map[int]int{} // wave -> authorisations card-api sent to card-processing
	for _, a := range answers {
		isShed := strings.HasPrefix(a.reason, cardapi.StandInShedReason)
		if !isShed {
			sentOn[a.wave]++
		}
		switch {
		case isShed:
			assert.Less(t, a.took, 300*time.Millisecond, "shed %s is answered at once, not after card-processing's 420 ms", a.id)
			shed = append(shed, a)
		case a.code == "00" || a.code == "51":
			admitted = append(admitted, a)
		}
	}
	t.Logf("%d authorisations: %d shed, %d approved or declined by card-processing (the rest ran out of time); sent on per wave: %v", len(answers), len(shed), len(admitted), sentOn)
	require.NotEmpty(t, shed, "card-api declined nothing at once although every answer took over 420 ms")
	for wave := range 5 {
		assert.Positive(t, sentOn[wave], "wave %d: card-api shed everything; its limit never falls below a few in flight", wave)
	}
	var counted, stoodIn float64
	for _, in := range p.Instances("card-api") {
		counted += metricSum(t, p, in.Addr, mesh.MetricShed)
		stoodIn += metricSum(t, p, in.Addr, cardapi.MetricStandInAnswers, `why="shed"`)
	}
	assert.GreaterOrEqual(t, counted, float64(len(shed)), "%s counts what card-api shed", mesh.MetricShed)
	assert.GreaterOrEqual(t, stoodIn, float64(len(shed)), "%s counts the shed authorisations card-api answered alone", cardapi.MetricStandInAnswers)
	require.Eventually(t, func() bool {
		a := audit(t, p)
		for _, s := range shed {
			ref := a.Refs[s.id]
			switch {
			case s.code == "00" && (ref.Debits != 1 || ref.Net != -100):
				return false
			case s.code != "00" && ref.Net != 0:
				return false
			}
		}
		return a.OK && a.StandIn.Pending == 0
	}, 30*time.Second, 500*time.Millisecond, "every shed authorisation settled: an approval debited once, a decline moving nothing; a clean audit")
}
