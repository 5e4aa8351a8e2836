package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/groundwork/result"
	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/cardapi"
	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/transactions"
)

// How long the harness waits for the bank's deferred work (payment credits,
// voids, the balance projection) to catch up before it judges money: at
// least DrainTimeout; past it, as long as the work left keeps shrinking, up
// to DrainLimit; and no longer once nothing has moved for drainStall. A
// wait cut off at DrainLimit leaves what was still pending unknown; a wait
// that ended because nothing moved leaves it invalid (check.Money).
const (
	DrainTimeout = 45 * time.Second
	DrainLimit   = 3 * time.Minute
	drainStall   = 20 * time.Second
	drainPoll    = time.Second
)

type moneyState struct {
	audit      transactions.Audit
	mismatches []string
	err        error
	drained    time.Duration
	catchingUp bool // the wait ended at DrainLimit with work left still shrinking
	left       int  // findings deferred work may yet clear, when the wait ended

	// The answers card-api recorded for this scenario's card
	// authorisations, read once the audit had drained (see cardAnswers).
	answers    []check.CardAnswer
	answersErr error

	standInBound int64 // check.StandInExposure's bound (result.Evidence)
}

func (s *suite) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := s.http().Do(req)
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
// ledger), or the wait ends (see DrainTimeout), and returns the last audit
// with those answers and how the wait ended.
func (s *suite) money(ctx context.Context, scenario string) moneyState {
	t0 := time.Now()
	var st moneyState
	ops := s.hist.Ops(scenario)
	msgs := map[string]history.Op{}
	for _, o := range ops {
		if o.Journey == "card-auth" && o.Key != "" {
			msgs[o.Key] = o
		}
	}
	in := &Inspect{s: s, scenario: scenario}
	best, moved, phase := -1, t0, false
	least := -1.0 // the deferred consumers' backlog, the least seen
	told := t0
	for {
		st = s.audit(ctx, ops)
		clean := st.err == nil && st.audit.Unsettled == 0 && st.audit.StandIn.Pending == 0 && len(st.mismatches) == 0
		if clean {
			// A "91" whose client gave up before the answer has a void on
			// its way too: wait for the answers to agree as well.
			st.answers, st.answersErr = s.cardAnswers(ctx, msgs)
		}
		st.left = st.pending()
		if clean && st.left == 0 && st.answersErr == nil {
			break
		}
		now := time.Now()
		if clean != phase || best < 0 || st.left < best {
			// Progress, or the first look at the answers: count from here.
			best, moved, phase = st.left, now, clean
		}
		b, ok := deferredBacklog(ctx, in)
		if ok && (least < 0 || b < least) {
			// The consumers are working through their queues, even if
			// what they handle now clears none of the findings yet (most
			// voids are of authorisations that never applied).
			least, moved = b, now
		}
		if now.Sub(t0) >= DrainTimeout && now.Sub(told) >= 15*time.Second {
			told = now
			progress("%s: the bank is still catching up after %v: %d findings left, %.0f messages queued for deferred work",
				scenario, now.Sub(t0).Round(time.Second), st.left, b)
		}
		if now.Sub(t0) >= DrainTimeout && now.Sub(moved) >= drainStall {
			break // nothing has moved for a while: what is left stays
		}
		if now.Sub(t0) >= DrainLimit {
			st.catchingUp = now.Sub(moved) < drainStall
			break
		}
		time.Sleep(drainPoll)
	}
	if st.answers == nil && st.answersErr == nil && st.err == nil {
		st.answers, st.answersErr = s.cardAnswers(ctx, msgs)
	}
	st.standInBound = cardapi.StandInPerAccount * int64(len(s.plat.Instances("card-api")))
	st.drained = time.Since(t0)
	return st
}

// moneyConsumers are the durable consumers whose work clears money
// findings: voids, the balance projection, payment settlement.
var moneyConsumers = map[string]string{"card-api": "card-voids", "balance": "balance-projection", "payments": "payments-settler"}

// deferredBacklog sums what those consumers have left (each as
// Inspect.Backlog reads it); false if any could not be read.
func deferredBacklog(ctx context.Context, in *Inspect) (float64, bool) {
	total := 0.0
	for service, consumer := range moneyConsumers {
		v, err := in.Backlog(ctx, service, consumer)
		if err != nil {
			return 0, false
		}
		total += v
	}
	return total, true
}

// pending counts what deferred work may yet clear: transfers not settled,
// the balance service's disagreements with the ledger (authorisations not
// yet reversed among them), and declined answers whose debit still stands.
func (m moneyState) pending() int {
	n := m.audit.Unsettled + m.audit.StandIn.Pending + len(m.mismatches)
	for _, a := range m.answers {
		if a.Code != balance.CodeApproved && m.audit.Refs[a.MessageID].Net != 0 {
			n++
		}
	}
	return n
}

// answersDeadline is the time card-api is given to list its answers.
const answersDeadline = 15 * time.Second

// cardAnswers reads the answers card-api recorded (from the first instance
// that lists them whole) and keeps those for messages in msgs, with the
// amount and account the load asked for.
func (s *suite) cardAnswers(ctx context.Context, msgs map[string]history.Op) ([]check.CardAnswer, error) {
	var errs []error
	for _, in := range s.plat.Instances("card-api") {
		addr, err := s.endpoint(ctx, in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all, err := s.listCardAnswers(ctx, s.url(addr, cardapi.AnswersPath))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var out []check.CardAnswer
		for _, a := range all {
			if op, ok := msgs[a.MessageID]; ok {
				out = append(out, check.CardAnswer{MessageID: a.MessageID, Code: a.Code, Approved: a.Approved, Amount: op.Amount, Account: op.Account,
					StandIn: strings.HasPrefix(a.Reason, cardapi.StandInReason)})
			}
		}
		return out, nil
	}
	if len(errs) == 0 {
		return nil, errors.New("read card-api answers: no card-api instance")
	}
	return nil, errors.Join(errs...)
}

func (s *suite) listCardAnswers(ctx context.Context, url string) ([]cardprocessing.AuthResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, answersDeadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("read card-api answers: %w", err)
	}
	req.Header.Set(mesh.HeaderDeadline, strconv.FormatInt(answersDeadline.Milliseconds(), 10))
	resp, err := s.http().Do(req)
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
	ev := result.Evidence{Audit: m.audit, Mismatches: m.mismatches, Drained: m.drained, CardAnswers: m.answers,
		CatchingUp: m.catchingUp, Left: m.left, StandInBound: m.standInBound}
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
		var addr string
		if addr, st.err = s.endpoint(ctx, in); st.err != nil {
			continue
		}
		if st.err = s.getJSON(ctx, s.url(addr, "/v1/audit?detail=1"), &st.audit); st.err == nil {
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
		addr, err := s.endpoint(ctx, bal[i%len(bal)])
		if err == nil {
			err = s.getJSON(ctx, s.url(addr, "/v1/accounts/"+c.Account+"/balance"), &b)
		}
		switch {
		case err != nil:
			st.mismatches = append(st.mismatches, fmt.Sprintf("balance of %s unreadable: %v", c.Account, err))
		case b.Stale:
			st.mismatches = append(st.mismatches, fmt.Sprintf("balance of %s answered from balance's copy (neither the projection nor the ledger answered)", c.Account))
		case b.Balance != st.audit.Balances[c.Account]:
			st.mismatches = append(st.mismatches, fmt.Sprintf("balance of %s is %d, its ledger says %d", c.Account, b.Balance, st.audit.Balances[c.Account]))
		}
	}
	return st
}
