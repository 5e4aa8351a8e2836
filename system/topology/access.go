package topology

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Who may call what. Every call between services is mutually authenticated
// (package identity), and a server authorises each route from this
// description:
//
//   - A route of an entry point that callers outside the mesh use (Entry)
//     takes any caller, with no certificate: the customer's app reaches
//     edge, which authenticates the customer by session; the card network
//     reaches card-api, which checks each message's MAC.
//   - Any other route takes only the services whose Calls name its service,
//     narrowed further for the routes that move money (Grants).
//   - The harness (Harness: the checks' audit and history reads) may read
//     (GET) any route and write none.
//
// A customer's identity travels inward in X-Customer only from the
// service that authenticated the customer (ActsForCustomers): edge, whose
// every call must carry one.

// Harness is the name in the certificate the platform issues the harness.
const Harness = "harness"

// Entry lists the routes, by service, that take callers from outside the
// mesh ("*": every route of the service).
var Entry = map[string][]string{
	"edge":     {"*"},
	"card-api": {"POST /v1/authorisations"},
}

// Grants narrows the callers of a route below its service's callers in the
// call graph: the routes that move money take only the service whose job
// it is. Keys are "service pattern".
var Grants = map[string][]string{
	"balance POST /v1/reserve":              {"card-processing", "payments"},
	"balance POST /v1/void":                 {"card-processing"},
	"balance POST /v1/standin":              {"card-processing"},
	"transactions POST /v1/ledger/append":   {"balance"},
	"card-processing POST /v1/authorise":    {"card-api"},
	"card-processing POST /v1/void":         {"card-api"},
	"card-processing POST /v1/standin":      {"card-api"},
	"cards PUT /v1/cards/{id}/status":       {"edge"},
	"balance GET /v1/accounts/{id}/balance": {"edge"},
}

// ActsForCustomers lists the services that may tell a callee which
// customer a call is for (X-Customer), and whether every call they make
// must: edge authenticated the customer, and calls only for one. (payments
// checks the customer edge gave it against the account's owner itself and
// moves the money as payments.)
var ActsForCustomers = map[string]bool{"edge": true}

// Public reports whether service's route pattern takes callers from outside
// the mesh.
func Public(service, pattern string) bool {
	for _, p := range Entry[service] {
		if p == "*" || p == pattern {
			return true
		}
	}
	return false
}

// Callers returns the services whose Calls name service.
func Callers(service string) []string {
	var out []string
	for _, s := range Services {
		if slices.Contains(s.Calls, service) {
			out = append(out, s.Name)
		}
	}
	return out
}

// MayCall reports whether the service (or the harness) named caller may
// call service's route pattern, and if not, why not.
func MayCall(caller, service, pattern string) error {
	if Public(service, pattern) {
		return nil
	}
	if caller == "" {
		return fmt.Errorf("%s %s takes only services of the mesh, with their certificate", service, pattern)
	}
	if caller == Harness {
		if strings.HasPrefix(pattern, http.MethodGet+" ") {
			return nil
		}
		return fmt.Errorf("the harness may only read %s", service)
	}
	allowed, narrowed := Grants[service+" "+pattern]
	if !narrowed {
		allowed = Callers(service)
	}
	if !slices.Contains(allowed, caller) {
		return fmt.Errorf("%s may not call %s %s (only %s)", caller, service, pattern, strings.Join(allowed, ", "))
	}
	return nil
}

// MayActFor reports whether caller may make a call for a customer
// (customer true) or for no customer (false), and if not, why not.
func MayActFor(caller string, customer bool) error {
	must, may := ActsForCustomers[caller]
	switch {
	case customer && !may:
		return fmt.Errorf("%s may not act for a customer", caller)
	case !customer && must:
		return fmt.Errorf("every call from %s must say which customer it is for", caller)
	}
	return nil
}

// checkAccess checks that grants only narrow the call graph: every
// service named in Entry, Grants and ActsForCustomers exists, and a grant
// names only callers of its service.
func checkAccess() error {
	for svc := range Entry {
		if _, ok := Lookup(svc); !ok {
			return fmt.Errorf("entry routes of unknown service %q", svc)
		}
	}
	for route, callers := range Grants {
		svc, _, ok := strings.Cut(route, " ")
		if _, known := Lookup(svc); !ok || !known {
			return fmt.Errorf("grant %q: not \"service METHOD /path\" of a known service", route)
		}
		for _, c := range callers {
			if !slices.Contains(Callers(svc), c) {
				return fmt.Errorf("grant %q names %q, which does not call %s", route, c, svc)
			}
		}
	}
	for svc := range ActsForCustomers {
		if _, ok := Lookup(svc); !ok {
			return fmt.Errorf("unknown service %q acts for customers", svc)
		}
	}
	return nil
}
