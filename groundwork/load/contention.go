package load

import (
	"fmt"

	"github.com/faultline/faultline/system/seed"
)

// Contention concentrates card authorisations and payments on a few
// accounts held close to their limit, as Jepsen's bank test does: many
// concurrent debits race for the little money each account has, so a lost
// update (two debits that both read the same balance) or an overdraft has a
// chance to happen, and the money checks a chance to see it.
//
// The hot accounts are the seed's near-empty ones (£30, no overdraft). Card
// authorisations spend only from them; payments move money between them
// and, one in two, top one up from an ordinary customer, so that they keep
// hovering at their limit instead of staying empty.
type Contention struct {
	Accounts int // how many hot accounts (DefaultHotAccounts if 0)
}

// DefaultHotAccounts is how many accounts a contention workload uses.
const DefaultHotAccounts = 4

// Contend makes g concentrate its money journeys on c's hot accounts until
// it is called again; a nil c spreads them over every customer again.
// It fails when the seed has too few near-empty customers.
func (g *Gen) Contend(c *Contention) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hot = nil
	if c == nil {
		return nil
	}
	n := c.Accounts
	if n == 0 {
		n = DefaultHotAccounts
	}
	for _, h := range g.holders {
		if len(g.hot) < n && h.Opening <= seed.Opening(7) && h.Limit == 0 {
			g.hot = append(g.hot, h)
		}
	}
	if len(g.hot) < max(2, n) {
		got := len(g.hot)
		g.hot = nil
		return fmt.Errorf("contention: want %d near-empty accounts, the seed has %d (seed more customers)", max(2, n), got)
	}
	return nil
}

// spender returns the customer whose card the next authorisation uses.
func (g *Gen) spender() seed.Customer {
	if len(g.hot) > 0 {
		return g.hot[g.rnd.IntN(len(g.hot))]
	}
	return g.holder()
}

// payers returns the payer and payee of the next payment.
func (g *Gen) payers() (from, to seed.Customer) {
	if len(g.hot) > 0 {
		to = g.hot[g.rnd.IntN(len(g.hot))]
		from = g.holder()
		if g.rnd.IntN(2) == 0 {
			from = g.hot[g.rnd.IntN(len(g.hot))]
		}
		for from.ID == to.ID {
			from = g.holder()
		}
		return from, to
	}
	from, to = g.holder(), g.holder()
	for to.ID == from.ID {
		to = g.holder()
	}
	return from, to
}
