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
	seen           bool
}

// auditor checks a ledger entry by entry, in stream order, so that the
// endpoint need not hold the whole ledger in memory. Not safe for
// concurrent use.
type auditor struct {
	a     Audit
	accts map[string]*accountState
	keys  map[string]bool
	outs  map[string]Entry // payment ref -> its transfer-out
	ins   map[string]int   // payment ref -> transfer-ins seen
}

func newAuditor() *auditor {
	return &auditor{
		a:     Audit{Balances: map[string]int64{}, Refs: map[string]RefSummary{}},
		accts: map[string]*accountState{},
		keys:  map[string]bool{},
		outs:  map[string]Entry{},
		ins:   map[string]int{},
	}
}

// finish checks what can only be checked once every entry is in (every
// transfer settled once, money conserved) and returns the audit.
func (au *auditor) finish() Audit {
	a := &au.a
	for id, st := range au.accts {
		a.Balances[id] = st.balance
		a.Total += st.balance
	}
	a.Accounts = len(au.accts)
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
	st := au.accts[e.Account]
	if st == nil {
		st = &accountState{}
		au.accts[e.Account] = st
	}
	if st.seen || e.Kind != KindOpening {
		if want := st.balance + e.Amount; e.BalanceAfter != want {
			a.problem("account %s entry %s: balance_after %d, ledger says %d", e.Account, e.Key, e.BalanceAfter, want)
		}
	}
	st.balance, st.limit, st.seen = e.BalanceAfter, e.Limit, true
	if e.Amount < 0 && e.BalanceAfter < -e.Limit {
		a.problem("account %s below its limit: %d < -%d (entry %s)", e.Account, e.BalanceAfter, e.Limit, e.Key)
	}
	ref := e.Ref
	switch e.Kind {
	case KindOpening:
		a.Opening += e.Amount
	case KindCard:
		a.External += e.Amount
		rs := a.Refs[ref]
		rs.Debits++
		rs.Net += e.Amount
		if rs.Debits > 1 {
			a.problem("authorisation %s applied %d times", ref, rs.Debits)
		}
		a.Refs[ref] = rs
	case KindCardReverse:
		a.External += e.Amount
		rs := a.Refs[ref]
		rs.Net += e.Amount
		a.Refs[ref] = rs
	case KindDeclined:
	case KindCardVoid:
		rs := a.Refs[ref]
		rs.Voided = true
		a.Refs[ref] = rs
	case KindTransferOut:
		if _, dup := au.outs[ref]; dup {
			a.problem("payment %s debited twice", ref)
		}
		au.outs[ref] = e
		rs := a.Refs[ref]
		rs.Debits++
		rs.Net += e.Amount
		a.Refs[ref] = rs
	case KindTransferIn:
		au.ins[ref]++
		if out, ok := au.outs[ref]; !ok {
			a.problem("payment %s credited before or without its debit", ref)
		} else if out.Amount != -e.Amount || out.Counterparty != e.Account {
			a.problem("payment %s credit %d to %s does not match debit %d to %s", ref, e.Amount, e.Account, out.Amount, out.Counterparty)
		}
	default:
		if !strings.HasPrefix(e.Kind, "x-") {
			a.problem("entry %s has unknown kind %q", e.Key, e.Kind)
		}
	}
}
