package mesh

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the Prometheus metrics of one process, on its own registry.
type Metrics struct {
	Registry *prometheus.Registry

	serverRequests *prometheus.CounterVec
	serverLatency  *prometheus.HistogramVec
	clientCalls    *prometheus.CounterVec
	clientLatency  *prometheus.HistogramVec
	retries        *prometheus.CounterVec
	budgetDenied   *prometheus.CounterVec
	breakerState   *prometheus.GaugeVec
	faultsInjected *prometheus.CounterVec
}

// NewMetrics registers the mesh metrics for service on a fresh registry.
func NewMetrics(service string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	c := prometheus.Labels{"service": service}
	m := &Metrics{
		Registry: reg,
		serverRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bank_server_requests_total",
			Help: "Requests served, by route and status code.", ConstLabels: c}, []string{"route", "code"}),
		serverLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bank_server_request_seconds",
			Help: "Time to serve a request, by route.", ConstLabels: c, Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"route"}),
		clientCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bank_client_calls_total",
			Help: "Calls to dependencies, by dependency and outcome.", ConstLabels: c}, []string{"dep", "outcome"}),
		clientLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bank_client_call_seconds",
			Help: "Time of calls to dependencies, retries included.", ConstLabels: c, Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"dep"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bank_client_retries_total",
			Help: "Retries sent, by dependency.", ConstLabels: c}, []string{"dep"}),
		budgetDenied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bank_client_retry_budget_exhausted_total",
			Help: "Retries not sent because the retry budget was spent.", ConstLabels: c}, []string{"dep"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bank_client_breaker_open",
			Help: "1 while the circuit breaker of an endpoint is open (endpoint ejected).", ConstLabels: c}, []string{"dep", "endpoint"}),
		faultsInjected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bank_admin_faults_applied_total",
			Help: "Requests affected by an admin L7 fault, by kind.", ConstLabels: c}, []string{"kind"}),
	}
	reg.MustRegister(m.serverRequests, m.serverLatency, m.clientCalls, m.clientLatency, m.retries, m.budgetDenied, m.breakerState, m.faultsInjected)
	return m
}
