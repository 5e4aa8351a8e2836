// Package load drives customer and card-network traffic at the bank with
// vegeta (one attacker per journey and attack, open model) and turns every
// result into an op of the run's history, with its outcome, business
// result, idempotency key and send lag.
//
// It is not a checker: it records what happened and flags load that was not
// delivered as asked (sent rate under 99%, or send lag too large).
package load

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/system/cardapi"
	"github.com/faultline/faultline/system/seed"
	"github.com/faultline/faultline/system/topology"
)

// Ingress is where and how clients reach the bank: functions that return
// the host:port addresses to use now (the ready ones, as a load balancer
// would), the key the card network signs its messages with, and the TLS
// settings of a caller from outside the mesh.
type Ingress struct {
	Edge    func() []string
	CardAPI func() []string
	CardKey []byte      // cardapi.Sign; the platform's (platform.CardNetwork)
	TLS     *tls.Config // the platform's (platform.Identity); nil: plain HTTP
}

// sessions returns the ingress's TLS settings with a session cache of
// their own, for one journey's connections. The cache is keyed by server
// name, which is the host alone when the caller dials addresses
// (127.0.0.1 for every entry point here): journeys that shared one would
// overwrite each other's tickets for edge and card-api and handshake in
// full, each time, whenever their load opens connections.
func (in Ingress) sessions() *tls.Config {
	if in.TLS == nil {
		return nil
	}
	cfg := in.TLS.Clone()
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	return cfg
}

// URL returns path at the entry point addr, as an outside caller reaches
// it: https when the ingress speaks TLS.
func (in Ingress) URL(addr, path string) string {
	if in.TLS != nil {
		return "https://" + addr + path
	}
	return "http://" + addr + path
}

// request is what a journey builds for one hit.
type request struct {
	method, url, token, key string
	body                    any
	amount                  int64
	account                 string        // the account it spends from, for the history
	signed                  bool          // a card network message: its body is signed (cardapi.HeaderMAC)
	idemKey                 string        // the key the history records (message id, payment ref)
	repick                  func() string // a fresh URL for a retry: the balancer picks again
}

// Journey is one customer feature's traffic: how to build a request and how
// to judge its answer.
type Journey struct {
	Name     string
	client   Client // how its client retries
	build    func(g *Gen) request
	classify func(res *vegeta.Result) (history.Outcome, string)
}

// Client returns how the journey's client behaves.
func (j Journey) Client() Client { return j.client }

// Journeys lists every journey, one per feature of the tier table.
func Journeys() []Journey {
	return []Journey{
		{Name: "card-auth", client: CardNetwork, build: (*Gen).cardAuth, classify: classifyCardAuth},
		{Name: "support", client: App, build: (*Gen).support, classify: classifyPlain},
		{Name: "payments", client: App, build: (*Gen).payment, classify: classifyPayment},
		{Name: "freeze", client: App, build: (*Gen).freeze, classify: classifyPlain},
		{Name: "balance", client: App, build: (*Gen).balance, classify: classifyPlain},
		{Name: "feed", client: App, build: (*Gen).feed, classify: classifyPlain},
		{Name: "emoji", client: App, build: (*Gen).emoji, classify: classifyPlain},
		{Name: "profile", client: App, build: (*Gen).profile, classify: classifyPlain},
		{Name: "merchant-logos", client: App, build: (*Gen).logo, classify: classifyPlain},
	}
}

// LookupJourney returns the named journey.
func LookupJourney(name string) (Journey, bool) {
	for _, j := range Journeys() {
		if j.Name == name {
			return j, true
		}
	}
	return Journey{}, false
}

func init() {
	for _, f := range topology.Features {
		if _, ok := LookupJourney(f.Name); !ok {
			panic("load: no journey for feature " + f.Name)
		}
	}
}

// Gen makes realistic requests from the seeded customers. Safe for
// concurrent use.
type Gen struct {
	mu      sync.Mutex
	rnd     *rand.Rand
	data    seed.Data
	ingress Ingress
	holders []seed.Customer // card holders and payers
	freezer []seed.Customer // customers whose cards the freeze journey toggles
	n       uint64
	prefix  string
	frozen  map[string]bool
	hot     []seed.Customer // the accounts a contention workload concentrates on
}

// NewGen returns a generator over d, seeded with sd. prefix makes keys
// unique across runs against the same bank.
func NewGen(d seed.Data, in Ingress, sd uint64, prefix string) *Gen {
	g := &Gen{rnd: rand.New(rand.NewPCG(sd, sd^0x9e3779b97f4a7c15)), data: d, ingress: in, prefix: prefix, frozen: map[string]bool{}}
	for i, c := range d.Customers {
		if i%10 == 9 {
			g.freezer = append(g.freezer, c)
		} else {
			g.holders = append(g.holders, c)
		}
	}
	return g
}

func (g *Gen) pick(list []string) string { return list[g.rnd.IntN(len(list))] }

func (g *Gen) id() string {
	g.n++
	return fmt.Sprintf("%s-%d", g.prefix, g.n)
}

func (g *Gen) holder() seed.Customer { return g.holders[g.rnd.IntN(len(g.holders))] }

func (g *Gen) cardAuth() request {
	c := g.spender()
	m := g.data.Merchants[g.rnd.IntN(len(g.data.Merchants))]
	id := g.id()
	amount := int64(100 + g.rnd.IntN(4900))
	r := request{method: http.MethodPost, url: g.cardAPIURL(), amount: amount, account: c.Account, idemKey: id, key: id, repick: g.locked(g.cardAPIURL), signed: true,
		body: map[string]any{"message_id": id, "card_id": c.Card, "amount": amount, "currency": "GBP", "merchant": m}}
	return r
}

func (g *Gen) edge(c seed.Customer, method, path string, body any) request {
	return request{method: method, url: g.edgeURL(path), token: c.Token, body: body,
		repick: g.locked(func() string { return g.edgeURL(path) })}
}

// edgeURL and cardAPIURL pick a ready ingress instance, as a load balancer
// would. The caller holds g.mu.
func (g *Gen) edgeURL(path string) string {
	return g.ingress.URL(g.pick(g.ingress.Edge()), path)
}

func (g *Gen) cardAPIURL() string {
	return g.ingress.URL(g.pick(g.ingress.CardAPI()), "/v1/authorisations")
}

// locked wraps f to run under g.mu, for retries made outside the builders.
func (g *Gen) locked(f func() string) func() string {
	return func() string {
		g.mu.Lock()
		defer g.mu.Unlock()
		return f()
	}
}

func (g *Gen) payment() request {
	from, to := g.payers()
	key := g.id()
	amount := int64(100 + g.rnd.IntN(1900))
	r := g.edge(from, http.MethodPost, "/v1/payments", map[string]any{"from": from.Account, "to": to.Account, "amount": amount, "currency": "GBP"})
	r.key, r.amount, r.idemKey, r.account = key, amount, from.ID+"/"+key, from.Account
	return r
}

func (g *Gen) freeze() request {
	c := g.freezer[g.rnd.IntN(len(g.freezer))]
	g.frozen[c.Card] = !g.frozen[c.Card]
	status := "active"
	if g.frozen[c.Card] {
		status = "frozen"
	}
	return g.edge(c, http.MethodPut, "/v1/cards/"+c.Card+"/status", map[string]string{"status": status})
}

func (g *Gen) balance() request { return g.edge(g.holder(), http.MethodGet, "/v1/balance", nil) }
func (g *Gen) feed() request    { return g.edge(g.holder(), http.MethodGet, "/v1/feed", nil) }

func (g *Gen) support() request {
	r := g.edge(g.holder(), http.MethodPost, "/v1/support/messages", map[string]string{"text": "Where is my card? " + g.id()})
	r.key = g.id()
	return r
}

var emojis = []string{"👍", "❤️", "😂", "🍕", "☕", "🎉"}

func (g *Gen) emoji() request {
	return g.edge(g.holder(), http.MethodPut, "/v1/reactions", map[string]string{"transaction": "tx-" + fmt.Sprint(g.rnd.IntN(1000)), "emoji": emojis[g.rnd.IntN(len(emojis))]})
}

var tinyPNG = base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n faultline profile picture"))

func (g *Gen) profile() request {
	return g.edge(g.holder(), http.MethodPut, "/v1/profile/picture", map[string]string{"content_type": "image/png", "data": tinyPNG})
}

func (g *Gen) logo() request {
	m := g.data.Merchants[g.rnd.IntN(len(g.data.Merchants))]
	return g.edge(g.holder(), http.MethodGet, "/v1/merchants/"+m.ID+"/logo", nil)
}

func classifyStatus(code int) history.Outcome {
	switch {
	case code >= 200 && code < 300:
		return history.OK
	case code >= 400 && code < 500:
		return history.Fail
	default: // 5xx or no answer
		return history.Unknown
	}
}

func classifyPlain(res *vegeta.Result) (history.Outcome, string) {
	return classifyStatus(int(res.Code)), ""
}

// ErrShed is the error of a card authorisation that card-api declined
// because it was shedding load (cardapi.ShedReason): the bank refused it at
// once for want of capacity, which a starved host causes as surely as a
// slow one.
const ErrShed = "declined: load shed"

func classifyCardAuth(res *vegeta.Result) (history.Outcome, string) {
	o := classifyStatus(int(res.Code))
	if o != history.OK {
		return o, ""
	}
	var a struct {
		Code   string `json:"code"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(res.Body, &a) != nil {
		return history.Unknown, "unreadable"
	}
	switch a.Code {
	case "00", "51": // approved, insufficient funds: the bank decided
		return history.OK, a.Code
	default:
		if a.Reason == cardapi.ShedReason {
			res.Error = ErrShed // kept in the op: this decline was load shed
		}
		// "91" issuer unavailable: declined, definitely not applied.
		// "14" invalid card, "62" restricted: wrong answers, as the load
		// only uses existing active cards (check.Answers flags them).
		return history.Fail, a.Code
	}
}

func classifyPayment(res *vegeta.Result) (history.Outcome, string) {
	o := classifyStatus(int(res.Code))
	if o != history.OK {
		return o, ""
	}
	var p struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(res.Body, &p) != nil {
		return history.Unknown, "unreadable"
	}
	return history.OK, p.Status
}
