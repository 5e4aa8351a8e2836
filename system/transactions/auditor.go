package transactions

import (
	"fmt"
	"sort"
	"strings"
)

// maxProblems bounds the problems an audit lists; ProblemCount counts all.
const maxProblems = 20

func (a *Audit) problem(format string, args ...any) {
	a.ProblemCount++
	if len(a.Problems) < maxProblems {
		a.Problems = append(a.Problems, fmt.Sprintf(format, args...))
	}
}

// AuditEntries audits a ledger given as its entries in stream order. It is
// a pure function: the audit endpoint feeds it the whole stream, tests a
// ledger made in memory. The result has Balances and Refs filled in; LastSeq
// is left to the caller.
func AuditEntries(entries []Entry) Audit {
	au := newAuditor()
	for _, e := range entries {
		au.add(e)
	}
	return au.finish()
}

type accountState struct {
	balance, limit int64
	seen, opened   bool
}

// auditor checks a ledger entry by entry, in stream order, so that the
// endpoint need not hold the whole ledger in memory. Not safe for
// concurrent use.
type auditor struct {
	a     Audit
	accts map[string]*accountState
	keys  map[string]bool
	cards map[string]Entry // authorisation ref -> its card debit
	outs  map[string]Entry // payment ref -> its transfer-out
	ins   map[string]int   // payment ref -> transfer-ins seen
}

func newAuditor() *auditor {
	return &auditor{
		a:     Audit{Balances: map[string]int64{}, Refs: map[string]RefSummary{}},
		accts: map[string]*accountState{},
		keys:  map[string]bool{},
		cards: map[string]Entry{},
		outs:  map[string]Entry{},
		ins:   map[string]int{},
	}
}

// finish checks what can only be checked once every entry is in (every
// authorisation's net within its debit, every transfer settled once, money
// conserved) and returns the audit.
func (au *auditor) finish() Audit {
	a := &au.a
	for id, st := range au.accts {
		a.Balances[id] = st.balance
		a.Total += st.balance
	}
	a.Accounts = len(au.accts)
	for ref, debit := range au.cards {
		rs := a.Refs[ref]
		switch {
		case debit.Amount >= 0: // reported as it was read
		case rs.Net > 0:
			a.problem("authorisation %s reversed more than debited: debit %d, net %d", ref, debit.Amount, rs.Net)
		case rs.Net < debit.Amount:
			a.problem("authorisation %s moved more than its debit: debit %d, net %d", ref, debit.Amount, rs.Net)
		}
	}
	for ref, out := range au.outs {
		switch au.ins[ref] {
		case 0:
			a.Unsettled++
			a.InFlight += -out.Amount
		case 1:
		default:
			a.problem("payment %s credited %d times", ref, au.ins[ref])
		}
	}
	if want := a.Opening + a.External; a.Total+a.InFlight != want {
		a.problem("money not conserved: balances %d + in flight %d != opening %d + external %d", a.Total, a.InFlight, a.Opening, a.External)
	}
	sort.Strings(a.Problems)
	a.OK = a.ProblemCount == 0
	return *a
}

// add checks one entry against the ledger before it.
func (au *auditor) add(e Entry) {
	a := &au.a
	a.Entries++
	if au.keys[e.Key] {
		a.problem("key %s applied twice", e.Key)
	}
	au.keys[e.Key] = true
	if e.StandIn && e.Kind != KindCard {
		a.problem("%s entry %s is marked stand-in: only a card debit may be", e.Kind, e.Key)
	}
	au.account(e)
	switch e.Kind {
	case KindOpening:
		a.Opening += e.Amount
	case KindCard, KindCardReverse:
		au.card(e)
	case KindDeclined, KindCardVoid:
		au.marker(e)
	case KindTransferOut, KindTransferIn:
		au.transfer(e)
	default:
		if !strings.HasPrefix(e.Kind, "x-") {
			a.problem("entry %s has unknown kind %q", e.Key, e.Kind)
		}
	}
}

// account checks e against its account's previous entry: its balance
// follows, its overdraft limit is the same and holds, and an account is
// opened once.
func (au *auditor) account(e Entry) {
	a := &au.a
	st := au.accts[e.Account]
	if st == nil {
		st = &accountState{}
		au.accts[e.Account] = st
	}
	if want := st.balance + e.Amount; e.BalanceAfter != want {
		a.problem("account %s entry %s: balance_after %d, ledger says %d", e.Account, e.Key, e.BalanceAfter, want)
	}
	if st.seen && e.Limit != st.limit {
		a.problem("account %s overdraft limit changed from %d to %d (entry %s)", e.Account, st.limit, e.Limit, e.Key)
	}
	if e.Kind == KindOpening {
		if st.opened {
			a.problem("account %s opened twice (entry %s)", e.Account, e.Key)
		}
		st.opened = true
	}
	st.balance, st.limit, st.seen = e.BalanceAfter, e.Limit, true
	if e.Amount < 0 && e.BalanceAfter < -e.Limit {
		if !e.StandIn {
			a.problem("account %s below its limit: %d < -%d (entry %s)", e.Account, e.BalanceAfter, e.Limit, e.Key)
			return
		}
		// An approval card-api gave alone, within its caps (a check holds
		// Overdrawn to them): posted, not refused.
		a.StandIn.BelowLimit++
		a.StandIn.Overdrawn = max(a.StandIn.Overdrawn, -e.Limit-e.BalanceAfter)
	}
}

// card checks a card debit or its reversal: card spend is a debit, applied
// once per authorisation; a reversal is a credit on the account of a debit
// before it.
func (au *auditor) card(e Entry) {
	a := &au.a
	a.External += e.Amount
	if e.Ref == "" {
		a.problem("%s entry %s has no ref", e.Kind, e.Key)
	}
	rs := a.Refs[e.Ref]
	rs.Net += e.Amount
	if e.StandIn {
		a.StandIn.Posted++
		a.StandIn.PostedAmount -= e.Amount
	}
	if e.Kind == KindCard {
		if e.Amount >= 0 {
			a.problem("card entry %s of authorisation %s has amount %d: card spend must be a debit", e.Key, e.Ref, e.Amount)
		}
		rs.Debits++
		rs.StandIn = rs.StandIn || e.StandIn
		switch {
		case rs.Debits == 2 && e.StandIn:
			// A stand-in approval posted under a key of its own, over an
			// earlier attempt's debit that a void reverses: finish holds
			// the net to one debit.
		case rs.Debits > 1:
			a.problem("authorisation %s applied %d times", e.Ref, rs.Debits)
		default:
			rs.Debit, rs.Account = e.Amount, e.Account
			au.cards[e.Ref] = e
		}
		a.Refs[e.Ref] = rs
		return
	}
	if e.Amount <= 0 {
		a.problem("reversal %s of authorisation %s has amount %d: it must be a credit", e.Key, e.Ref, e.Amount)
	}
	switch debit, ok := au.cards[e.Ref]; {
	case !ok:
		a.problem("reversal %s of authorisation %s has no debit before it", e.Key, e.Ref)
	case debit.Account != e.Account:
		a.problem("reversal %s of authorisation %s is on account %s, its debit is on %s", e.Key, e.Ref, e.Account, debit.Account)
	}
	a.Refs[e.Ref] = rs
}

// marker checks a zero-amount marker (declined, card-void): it moves
// nothing.
func (au *auditor) marker(e Entry) {
	a := &au.a
	if e.Amount != 0 {
		a.problem("%s marker %s of %s moves %d: a marker must move nothing", e.Kind, e.Key, e.Ref, e.Amount)
	}
	if e.Kind == KindCardVoid {
		rs := a.Refs[e.Ref]
		rs.Voided = true
		a.Refs[e.Ref] = rs
	}
}

// transfer checks a payment's debit or credit: the debit is negative and
// once per payment; the credit is positive, after its debit, of the same
// amount, on the debit's counterparty and naming the debited account.
func (au *auditor) transfer(e Entry) {
	a := &au.a
	ref := e.Ref
	if ref == "" {
		a.problem("%s entry %s has no ref", e.Kind, e.Key)
	}
	if e.Kind == KindTransferOut {
		if e.Amount >= 0 {
			a.problem("payment %s debit %s has amount %d: a transfer-out must be a debit", ref, e.Key, e.Amount)
		}
		if _, dup := au.outs[ref]; dup {
			a.problem("payment %s debited twice", ref)
		}
		au.outs[ref] = e
		rs := a.Refs[ref]
		rs.Debits++
		rs.Net += e.Amount
		if rs.Debits == 1 {
			rs.Debit, rs.Account = e.Amount, e.Account
		}
		a.Refs[ref] = rs
		return
	}
	au.ins[ref]++
	if e.Amount <= 0 {
		a.problem("payment %s credit %s has amount %d: a transfer-in must be a credit", ref, e.Key, e.Amount)
	}
	out, ok := au.outs[ref]
	switch {
	case !ok:
		a.problem("payment %s credited before or without its debit", ref)
	case out.Amount != -e.Amount || out.Counterparty != e.Account || e.Counterparty != out.Account:
		a.problem("payment %s credit %d to %s from %s does not match debit %d from %s to %s",
			ref, e.Amount, e.Account, e.Counterparty, out.Amount, out.Account, out.Counterparty)
	}
}
