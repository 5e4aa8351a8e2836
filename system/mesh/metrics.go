package mesh

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metric names of the mechanisms docs/BANK.md promises for calls between
// services, so that checks name them by constant rather than by literal.
// Every metric also carries the constant label service.
const (
	MetricServerRequests   = "bank_server_requests_total"                // route, code
	MetricServerCut        = "bank_server_requests_cut_total"            // route, cause: a request's context ended before its handler answered
	MetricRateLimited      = "bank_server_rate_limited_total"            // route: answered 429 by the process-wide rate limit
	MetricInFlight         = "bank_server_in_flight"                     // requests being served now
	MetricDraining         = "bank_server_draining"                      // 1 from SIGTERM until the process exits
	MetricDrainRequests    = "bank_server_drain_requests_total"          // outcome: served after SIGTERM, or cut when the drain timed out
	MetricClientCalls      = "bank_client_calls_total"                   // dep, outcome
	MetricRetries          = "bank_client_retries_total"                 // dep: retries sent
	MetricBudgetExhausted  = "bank_client_retry_budget_exhausted_total"  // dep: retries the budget refused
	MetricBreakerOpen      = "bank_client_breaker_open"                  // dep, endpoint: 1 while ejected
	MetricBreakerChanges   = "bank_client_breaker_transitions_total"     // dep, endpoint, to: open (an ejection), half-open, closed
	MetricCallsCancelled   = "bank_client_calls_cancelled_total"         // dep, cause: the caller's context ended the call
	MetricDeadlineSpent    = "bank_client_deadline_spent_total"          // dep: calls not sent, the caller's deadline already spent
	MetricConsumerMessages = "bank_consumer_messages_total"              // consumer, outcome: ok, retry
	MetricConsumerBacklog  = "bank_consumer_backlog"                     // consumer: messages not yet acknowledged
	MetricBacklogDelivery  = "bank_consumer_backlog_delivery"            // consumer: the consumer's delivery sequence the backlog was read at
	MetricConsumerCatchUp  = "bank_consumer_catch_up_messages_total"     // consumer: deferred messages handled while behind, under the catch-up pace
	MetricCatchUpWait      = "bank_consumer_catch_up_wait_seconds_total" // consumer: time deferred work waited on the catch-up pace
	MetricShed             = "bank_shed_total"                           // path: calls refused by admission control (load shed)
	MetricRefused          = "bank_server_refused_total"                 // route, reason: unauthenticated, forbidden
	MetricHandshakes       = "bank_server_tls_handshakes_total"          // resumed: true, false
)

// Causes of a cut request or a cancelled call: the caller went away (its
// context was cancelled, its connection closed) or the deadline it
// propagated in X-Deadline-Ms passed.
const (
	CauseCancelled = "caller_cancelled"
	CauseDeadline  = "caller_deadline"
)

// Outcomes of a request handled during a drain.
const (
	DrainServed = "served" // answered after SIGTERM
	DrainCut    = "cut"    // still in flight when the drain timed out
)

// Breaker states as the transitions metric names them.
const (
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
	BreakerClosed   = "closed"
)

// Metrics are the Prometheus metrics of one process, on its own registry.
// Safe for concurrent use.
type Metrics struct {
	Registry *prometheus.Registry

	serverRequests *prometheus.CounterVec
	serverLatency  *prometheus.HistogramVec
	serverCut      *prometheus.CounterVec
	rateLimited    *prometheus.CounterVec
	refused        *prometheus.CounterVec
	handshakes     *prometheus.CounterVec
	inFlight       prometheus.Gauge
	draining       prometheus.Gauge
	drainRequests  *prometheus.CounterVec
	clientCalls    *prometheus.CounterVec
	clientLatency  *prometheus.HistogramVec
	retries        *prometheus.CounterVec
	budgetDenied   *prometheus.CounterVec
	breakerState   *prometheus.GaugeVec
	breakerChanges *prometheus.CounterVec
	callsCancelled *prometheus.CounterVec
	deadlineSpent  *prometheus.CounterVec
	consumed       *prometheus.CounterVec
	backlog        *prometheus.GaugeVec
	backlogAt      *prometheus.GaugeVec
	catchUp        *prometheus.CounterVec
	catchUpWait    *prometheus.CounterVec
	faultsInjected *prometheus.CounterVec
	shed           *prometheus.CounterVec
}

// NewMetrics registers the mesh metrics for service on a fresh registry.
func NewMetrics(service string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	c := prometheus.Labels{"service": service}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: c}, labels)
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: c})
	}
	m := &Metrics{
		Registry:       reg,
		serverRequests: counter(MetricServerRequests, "Requests served, by route and status code.", "route", "code"),
		serverLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bank_server_request_seconds",
			Help: "Time to serve a request, by route.", ConstLabels: c, Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"route"}),
		serverCut:     counter(MetricServerCut, "Requests whose context ended before the handler answered: the caller cancelled, or its propagated deadline passed.", "route", "cause"),
		rateLimited:   counter(MetricRateLimited, "Requests refused with 429 by the process-wide rate limit, by route.", "route"),
		refused:       counter(MetricRefused, "Requests refused by the route's policy: no certificate (unauthenticated), or a caller the route does not take (forbidden).", "route", "reason"),
		handshakes:    counter(MetricHandshakes, "TLS handshakes the server completed, resumed (a caller's session ticket) or full: each is a connection a caller opened.", "resumed"),
		inFlight:      gauge(MetricInFlight, "Requests being served."),
		draining:      gauge(MetricDraining, "1 from SIGTERM (not ready, draining) until the process exits."),
		drainRequests: counter(MetricDrainRequests, "Requests answered after SIGTERM (served), or still in flight when the drain timed out (cut).", "outcome"),
		clientCalls:   counter(MetricClientCalls, "Calls to dependencies, by dependency and outcome.", "dep", "outcome"),
		clientLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bank_client_call_seconds",
			Help: "Time of calls to dependencies, retries included.", ConstLabels: c, Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"dep"}),
		retries:      counter(MetricRetries, "Retries sent, by dependency.", "dep"),
		budgetDenied: counter(MetricBudgetExhausted, "Retries not sent because the retry budget was spent.", "dep"),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricBreakerOpen,
			Help: "1 while the circuit breaker of an endpoint is open (endpoint ejected).", ConstLabels: c}, []string{"dep", "endpoint"}),
		breakerChanges: counter(MetricBreakerChanges, "Circuit breaker state changes of an endpoint, by the state entered (open: ejected).", "dep", "endpoint", "to"),
		callsCancelled: counter(MetricCallsCancelled, "Calls ended because the caller's context ended (cancelled, or its propagated deadline passed), by dependency and cause.", "dep", "cause"),
		deadlineSpent:  counter(MetricDeadlineSpent, "Calls not sent because the caller's deadline was already spent.", "dep"),
		consumed:       counter(MetricConsumerMessages, "Deferred-work messages handled, by durable consumer and outcome (ok: acknowledged; retry: redelivered later).", "consumer", "outcome"),
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricConsumerBacklog,
			Help: "Messages of a durable consumer not yet acknowledged (pending plus in flight), as last read from the store.", ConstLabels: c}, []string{"consumer"}),
		backlogAt: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricBacklogDelivery,
			Help: "The durable consumer's delivery sequence at which this replica read its backlog: replicas share a consumer, and the one with the latest delivery knows best.", ConstLabels: c}, []string{"consumer"}),
		catchUp:        counter(MetricConsumerCatchUp, "Deferred-work messages handled while the consumer was behind, under the catch-up pace.", "consumer"),
		catchUpWait:    counter(MetricCatchUpWait, "Seconds deferred work waited on the catch-up pace, so that a backlog does not reach the stores all at once.", "consumer"),
		faultsInjected: counter("bank_admin_faults_applied_total", "Requests affected by an admin L7 fault, by kind.", "kind"),
		shed:           counter(MetricShed, "Calls refused at once by admission control (load shed), by path.", "path"),
	}
	reg.MustRegister(m.serverRequests, m.serverLatency, m.serverCut, m.rateLimited, m.refused, m.handshakes, m.inFlight, m.draining, m.drainRequests,
		m.clientCalls, m.clientLatency, m.retries, m.budgetDenied, m.breakerState, m.breakerChanges, m.callsCancelled,
		m.deadlineSpent, m.consumed, m.backlog, m.backlogAt, m.catchUp, m.catchUpWait, m.faultsInjected, m.shed)
	return m
}

// ConsumerHandled counts one deferred-work message handled by consumer:
// acknowledged when ok, redelivered later otherwise.
func (m *Metrics) ConsumerHandled(consumer string, ok bool) {
	outcome := "ok"
	if !ok {
		outcome = "retry"
	}
	m.consumed.WithLabelValues(consumer, outcome).Inc()
}

// SetConsumerBacklog records how many messages consumer had not yet
// acknowledged at its delivery number delivery (the consumer's own
// sequence, which counts every delivery, redeliveries too). Replicas share
// a durable consumer and each knows the backlog only as of a message it
// took; a replica still working through messages it took long ago reports
// old figures, so a reader takes the replica with the latest delivery
// (MetricBacklogDelivery), never the sum or the latest report.
func (m *Metrics) SetConsumerBacklog(consumer string, n int, delivery uint64) {
	m.backlog.WithLabelValues(consumer).Set(float64(n))
	m.backlogAt.WithLabelValues(consumer).Set(float64(delivery))
}

// ConsumerCaughtUp counts one deferred-work message of consumer handled
// while behind, after waiting wait on the catch-up pace.
func (m *Metrics) ConsumerCaughtUp(consumer string, wait time.Duration) {
	m.catchUp.WithLabelValues(consumer).Inc()
	m.catchUpWait.WithLabelValues(consumer).Add(wait.Seconds())
}

// Shed counts one call refused by admission control on path.
func (m *Metrics) Shed(path string) { m.shed.WithLabelValues(path).Inc() }
