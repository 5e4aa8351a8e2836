package cardapi

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// What card-api's stand-in exports, beside the mesh's metrics.
const (
	// MetricStandInAnswers counts the answers card-api gave alone, by why
	// it stood in (shed, no_answer) and the code it gave ("00", "51",
	// "62", "91"), or "not_journaled" when the journals did not take the
	// answer and the network was told to resend.
	MetricStandInAnswers = "bank_standin_answers_total"
	// MetricStandInExposure is what this replica approved alone and has
	// not yet forgotten (standInHold), in pence: the money the ledger may
	// not have seen yet, bounded by standInTotal.
	MetricStandInExposure = "bank_standin_exposure_pence"
)

// standInMetrics are stand-in's own metrics, on the process's registry.
type standInMetrics struct {
	answers *prometheus.CounterVec
}

// notJournaled is the code label of a stand-in answer the journals did not
// take (MetricStandInAnswers).
const notJournaled = "not_journaled"

// newStandInMetrics registers stand-in's metrics on reg: the answers, and
// the exposure read from e when scraped.
func newStandInMetrics(reg prometheus.Registerer, service string, e *exposure) standInMetrics {
	labels := prometheus.Labels{"service": service}
	m := standInMetrics{answers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricStandInAnswers, ConstLabels: labels,
		Help: "Answers card-api gave alone (stand-in), by why it stood in and the code given (not_journaled: the journals did not take it; the network resends)."},
		[]string{"why", "code"})}
	exp := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricStandInExposure, ConstLabels: labels,
		Help: "What this replica approved by stand-in and has not yet forgotten, in pence."},
		func() float64 {
			_, total := e.pending("", time.Now())
			return float64(total)
		})
	reg.MustRegister(m.answers, exp)
	return m
}

// answered counts one stand-in answer.
func (m standInMetrics) answered(why, code string) { m.answers.WithLabelValues(why, code).Inc() }
