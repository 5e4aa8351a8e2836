// Package topology is the one description of the bank's mesh: every service,
// its replicas, its tier, the customer features it serves and the services it
// calls. The local platform and the Kubernetes manifests are both derived from
// it, so adding a service is one edit here (plus its package).
//
// It holds data only; it starts nothing and is safe for concurrent use.
package topology

import "fmt"

// Store is the name of the replicated store (a 3-node NATS JetStream cluster).
// Services that keep state list it in Calls like any other dependency.
const Store = "store"

// StoreNodes is the number of store nodes; one may be lost without losing an
// acknowledged write.
const StoreNodes = 3

// Feature is a customer-facing feature and its tier (0 is most important).
type Feature struct {
	Name string // stable identifier, also the load journey's name
	Tier int
	Desc string
}

// Service is one deployable service of the bank.
type Service struct {
	Name     string
	Replicas int
	Tier     int      // the most important tier among the features it serves
	Calls    []string // services (and Store) it calls
	Desc     string
}

// Features lists the customer features, in the order of importance of the
// "Building reliable APIs" talk.
var Features = []Feature{
	{"support", 0, "Contacting us (support chat)"},
	{"card-auth", 0, "Using your debit card (authorisation from the card network)"},
	{"payments", 1, "Making payments (transfers between accounts)"},
	{"freeze", 1, "Freezing your card"},
	{"balance", 1, "Viewing your balance"},
	{"feed", 2, "Viewing recent transactions (the feed)"},
	{"emoji", 3, "Sending emoji reactions"},
	{"profile", 3, "Setting your profile picture"},
	{"merchant-logos", 3, "Viewing merchant logos"},
}

// FeaturePaths maps each feature to the services on its path.
var FeaturePaths = map[string][]string{
	"support":        {"edge", "support"},
	"card-auth":      {"card-api", "card-processing", "cards", "balance", "transactions"},
	"payments":       {"edge", "payments", "accounts", "balance", "transactions"},
	"freeze":         {"edge", "cards"},
	"balance":        {"edge", "balance"},
	"feed":           {"edge", "feed"},
	"emoji":          {"edge", "emoji"},
	"profile":        {"edge", "profile"},
	"merchant-logos": {"edge", "merchant"},
}

// Services lists every service of the bank. Replicas of critical services are
// 2 so that losing one instance is survivable.
var Services = []Service{
	{Name: "edge", Replicas: 2, Tier: 0, Calls: []string{"support", "balance", "payments", "cards", "feed", "emoji", "profile", "merchant", Store},
		Desc: "API gateway for the app: bearer-token auth, per-customer rate limits, routing"},
	{Name: "support", Replicas: 2, Tier: 0, Calls: []string{Store}, Desc: "support chat threads"},
	{Name: "card-api", Replicas: 2, Tier: 0, Calls: []string{"card-processing", Store},
		Desc: "the card network's entry point: authorisation requests keyed by network message id"},
	{Name: "card-processing", Replicas: 2, Tier: 0, Calls: []string{"cards", "balance", Store},
		Desc: "authorisation decisions and voids of timed-out authorisations"},
	{Name: "cards", Replicas: 2, Tier: 0, Calls: []string{Store}, Desc: "cards and their status (active / frozen)"},
	{Name: "accounts", Replicas: 2, Tier: 1, Calls: []string{Store}, Desc: "accounts and their owners and limits"},
	{Name: "balance", Replicas: 2, Tier: 0, Calls: []string{"transactions", Store},
		Desc: "funds checks and balance reads; the only writer of money movements"},
	{Name: "transactions", Replicas: 2, Tier: 0, Calls: []string{Store},
		Desc: "the ledger: conditional appends, per-account reads and the audit"},
	{Name: "payments", Replicas: 2, Tier: 1, Calls: []string{"accounts", "balance", Store},
		Desc: "transfers between accounts; settles credits from the ledger"},
	{Name: "pots", Replicas: 1, Tier: 2, Calls: []string{Store}, Desc: "savings pots"},
	{Name: "merchant", Replicas: 1, Tier: 3, Calls: []string{Store}, Desc: "merchant names and logos"},
	{Name: "transaction-enrichment", Replicas: 1, Tier: 3, Calls: []string{Store},
		Desc: "deferred: enriches ledger entries with merchant data and publishes events"},
	{Name: "feed-generator", Replicas: 1, Tier: 2, Calls: []string{Store}, Desc: "deferred: builds each customer's feed from events"},
	{Name: "feed", Replicas: 1, Tier: 2, Calls: []string{Store}, Desc: "serves the feed"},
	{Name: "notifications", Replicas: 1, Tier: 3, Calls: []string{Store}, Desc: "deferred: deduplicated push notifications"},
	{Name: "emoji", Replicas: 1, Tier: 3, Calls: []string{Store}, Desc: "emoji reactions on transactions"},
	{Name: "profile", Replicas: 1, Tier: 3, Calls: []string{Store}, Desc: "profile pictures"},
}

// Lookup returns the named service.
func Lookup(name string) (Service, bool) {
	for _, s := range Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// LookupFeature returns the named feature.
func LookupFeature(name string) (Feature, bool) {
	for _, f := range Features {
		if f.Name == name {
			return f, true
		}
	}
	return Feature{}, false
}

// ServicesOf returns the services that serve feature.
func ServicesOf(feature string) []string { return FeaturePaths[feature] }

// FeaturesOf returns the features whose path includes service.
func FeaturesOf(service string) []string {
	var out []string
	for _, f := range Features {
		for _, s := range FeaturePaths[f.Name] {
			if s == service {
				out = append(out, f.Name)
				break
			}
		}
	}
	return out
}

// Validate checks that the description is consistent: unique names, known
// dependencies, no dependency cycles between services, and tiers that match
// the features each service serves. It is run by the tests and by the bank
// binary at start.
func Validate() error {
	seen := map[string]bool{}
	for _, s := range Services {
		if seen[s.Name] {
			return fmt.Errorf("service %q listed twice", s.Name)
		}
		seen[s.Name] = true
		if s.Replicas < 1 {
			return fmt.Errorf("service %q: replicas %d < 1", s.Name, s.Replicas)
		}
	}
	for _, s := range Services {
		for _, c := range s.Calls {
			if c != Store && !seen[c] {
				return fmt.Errorf("service %q calls unknown service %q", s.Name, c)
			}
		}
	}
	for f, path := range FeaturePaths {
		ft, ok := LookupFeature(f)
		if !ok {
			return fmt.Errorf("path for unknown feature %q", f)
		}
		for _, s := range path {
			svc, ok := Lookup(s)
			if !ok {
				return fmt.Errorf("feature %q: unknown service %q", f, s)
			}
			if svc.Tier > ft.Tier {
				return fmt.Errorf("service %q is tier %d but serves tier %d feature %q", s, svc.Tier, ft.Tier, f)
			}
		}
	}
	if err := checkAccess(); err != nil {
		return err
	}
	return checkAcyclic()
}

func checkAcyclic() error {
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var visit func(string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("dependency cycle through %q", n)
		case 2:
			return nil
		}
		state[n] = 1
		s, _ := Lookup(n)
		for _, c := range s.Calls {
			if c != Store {
				if err := visit(c); err != nil {
					return err
				}
			}
		}
		state[n] = 2
		return nil
	}
	for _, s := range Services {
		if err := visit(s.Name); err != nil {
			return err
		}
	}
	return nil
}

// StartOrder returns services so that every service comes after the services
// it calls.
func StartOrder() []Service {
	done := map[string]bool{}
	var out []Service
	var visit func(string)
	visit = func(n string) {
		if done[n] {
			return
		}
		done[n] = true
		s, _ := Lookup(n)
		for _, c := range s.Calls {
			if c != Store {
				visit(c)
			}
		}
		out = append(out, s)
	}
	for _, s := range Services {
		visit(s.Name)
	}
	return out
}
