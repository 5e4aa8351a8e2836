package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/result"
	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/cardapi"
	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/mesh"
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

	// The answers card-api recorded for this scenario's card
	// authorisations, read once the audit had drained (see cardAnswers).
	answers    []check.CardAnswer
	answersErr error
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
// voided authorisation reversed, every balance equal to its ledger, every
// answer card-api gave for the scenario's messages agreeing with the
// ledger) or DrainTimeout passes, and returns the last audit with those
// answers.
func (s *suite) money(ctx context.Context, scenario string) moneyState {
	t0 := time.Now()
	var st moneyState
	ops := s.hist.Ops(scenario)
	msgs := map[string]bool{}
	for _, o := range ops {
		if o.Journey == "card-auth" && o.Key != "" {
			msgs[o.Key] = true
		}
	}
	for {
		st = s.audit(ctx, ops)
		answered := false
		if st.err == nil && st.audit.Unsettled == 0 && len(st.mismatches) == 0 {
			// A "91" whose client gave up before the answer has a void on
			// its way too: wait for the answers to agree as well.
			st.answers, st.answersErr = s.cardAnswers(ctx, msgs)
			if cardAnswersCheck(st.evidence(ops)).Verdict == check.Valid {
				break
			}
			answered = true
		}
		if time.Since(t0) > DrainTimeout {
			if !answered && st.err == nil {
				st.answers, st.answersErr = s.cardAnswers(ctx, msgs)
			}
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	st.drained = time.Since(t0)
	return st
}

// answersDeadline is the time card-api is given to list its answers.
const answersDeadline = 15 * time.Second

// cardAnswers reads the answers card-api recorded (from the first instance
// that lists them whole) and keeps those for messages in msgs.
func (s *suite) cardAnswers(ctx context.Context, msgs map[string]bool) ([]check.CardAnswer, error) {
	var errs []error
	for _, in := range s.plat.Instances("card-api") {
		all, err := listCardAnswers(ctx, "http://"+in.Addr+cardapi.AnswersPath)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var out []check.CardAnswer
		for _, a := range all {
			if msgs[a.MessageID] {
				out = append(out, check.CardAnswer{MessageID: a.MessageID, Code: a.Code, Approved: a.Approved})
			}
		}
		return out, nil
	}
	if len(errs) == 0 {
		return nil, errors.New("read card-api answers: no card-api instance")
	}
	return nil, errors.Join(errs...)
}

func listCardAnswers(ctx context.Context, url string) ([]cardprocessing.AuthResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, answersDeadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("read card-api answers: %w", err)
	}
	req.Header.Set(mesh.HeaderDeadline, strconv.FormatInt(answersDeadline.Milliseconds(), 10))
	resp, err := adminHTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read card-api answers: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read card-api answers: GET %s: status %d", url, resp.StatusCode)
	}
	answers, err := cardapi.ReadAnswers(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return answers, nil
}

// evidence is the saved form of m: the audit's per-key summaries are cut to
// the keys of ops (the whole ledger's would repeat in every scenario).
func (m moneyState) evidence(ops []history.Op) result.Evidence {
	ev := result.Evidence{Audit: m.audit, Mismatches: m.mismatches, Drained: m.drained, CardAnswers: m.answers}
	if m.err != nil {
		ev.Error = m.err.Error()
	}
	if m.answersErr != nil {
		ev.AnswersError = m.answersErr.Error()
	}
	refs := map[string]transactions.RefSummary{}
	for _, o := range ops {
		if r, ok := m.audit.Refs[o.Key]; ok && o.Key != "" {
			refs[o.Key] = r
		}
	}
	ev.Audit.Refs = refs
	return ev
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
