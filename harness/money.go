package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/transactions"
)

// DrainTimeout bounds how long the harness waits for deferred work (payment
// credits, voids, the balance projection) to catch up before judging money.
const DrainTimeout = 45 * time.Second

type moneyState struct {
	audit      transactions.Audit
	mismatches []string
	err        error
	drained    time.Duration
}

var adminHTTP = &http.Client{Timeout: 20 * time.Second}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := adminHTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// money waits until the bank has drained (every transfer settled, every
// voided authorisation reversed, every balance equal to its ledger) or
// DrainTimeout passes, and returns the last audit.
func (s *suite) money(ctx context.Context, scenario string) moneyState {
	t0 := time.Now()
	var st moneyState
	ops := s.hist.Ops(scenario)
	for {
		st = s.audit(ctx, ops)
		if st.err == nil && st.audit.Unsettled == 0 && len(st.mismatches) == 0 {
			break
		}
		if time.Since(t0) > DrainTimeout {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	st.drained = time.Since(t0)
	return st
}

func (s *suite) audit(ctx context.Context, ops []history.Op) moneyState {
	var st moneyState
	for _, in := range s.plat.Instances("transactions") {
		if st.err = getJSON(ctx, "http://"+in.Addr+"/v1/audit?detail=1", &st.audit); st.err == nil {
			break
		}
	}
	if st.err != nil {
		return st
	}
	for _, o := range ops {
		if o.Journey == "card-auth" && o.Outcome == history.Fail && o.Key != "" && st.audit.Refs[o.Key].Net != 0 {
			st.mismatches = append(st.mismatches, fmt.Sprintf("authorisation %s declined but not yet reversed", o.Key))
		}
	}
	bal := s.plat.Instances("balance")
	for i, c := range s.data.Customers {
		var b balance.Balance
		err := getJSON(ctx, "http://"+bal[i%len(bal)].Addr+"/v1/accounts/"+c.Account+"/balance", &b)
		switch {
		case err != nil:
			st.mismatches = append(st.mismatches, fmt.Sprintf("balance of %s unreadable: %v", c.Account, err))
		case b.Balance != st.audit.Balances[c.Account]:
			st.mismatches = append(st.mismatches, fmt.Sprintf("balance of %s is %d, its ledger says %d", c.Account, b.Balance, st.audit.Balances[c.Account]))
		}
	}
	return st
}
