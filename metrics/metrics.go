// Package metrics counts an Engine's pulls as Prometheus metrics.
//
// New returns a Collector that is both an engine.Observer (give it to
// engine.Options.Observer) and a prometheus.Collector (register it where
// the program wants: the engine and this package register nothing
// globally):
//
//	m := metrics.New()
//	e, err := engine.New(engine.Options{Observer: m})
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(m)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The metrics:
//
//	pullengine_pulls_total{outcome,kind}    counter: finished Pull calls
//	pullengine_pull_duration_seconds        histogram: their wall time
//	pullengine_bytes_total{kind}            counter: blob bytes of successful pulls
//	pullengine_pulls_in_flight              gauge: Pull calls running
//	pullengine_retries_total                counter: copies retried after a transient error
//
// outcome is the Result's (pulled, up-to-date, used-local, local-fallback)
// or failed. kind is the pullerrors kind (not-found, unavailable, ...) of
// the error of a failed pull, and of the registry's error of a
// local-fallback; it is empty for the other outcomes. The bytes kinds are
// the Result's Transfer figures: fetched (BytesFetched), reused
// (BytesReused), resumed (BytesResumed) and discarded (BytesDiscarded).
// Concurrent pulls that share one transfer each report the bytes they
// watched, so the sum can exceed what crossed the network; a failed pull
// reports none.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/pullengine/pullengine/engine"
	pullerrors "github.com/pullengine/pullengine/errors"
)

// outcomeFailed is the outcome label of a failed pull.
const outcomeFailed = "failed"

// durationBuckets span a pull's wall time: from a local lookup
// (milliseconds) to a large image over a slow link (half an hour).
var durationBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}

// Collector counts pulls. It is an engine.Observer and a
// prometheus.Collector; create it with New. It is safe for concurrent
// use.
type Collector struct {
	pulls    *prometheus.CounterVec
	duration prometheus.Histogram
	bytes    *prometheus.CounterVec
	inFlight prometheus.Gauge
	retries  prometheus.Counter
}

var (
	_ engine.Observer      = (*Collector)(nil)
	_ prometheus.Collector = (*Collector)(nil)
)

// New returns a Collector with every counter at zero.
func New() *Collector {
	c := &Collector{
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pullengine_pulls_total",
			Help: "Pull calls finished, by outcome (pulled, up-to-date, used-local, local-fallback, failed) and error kind (empty without an error).",
		}, []string{"outcome", "kind"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pullengine_pull_duration_seconds",
			Help:    "Wall time of Pull calls, failed ones included.",
			Buckets: durationBuckets,
		}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pullengine_bytes_total",
			Help: "Blob bytes of successful pulls: fetched from the source, reused from the store, resumed from kept partial downloads, discarded (fetched again because a registry ignored a range).",
		}, []string{"kind"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pullengine_pulls_in_flight",
			Help: "Pull calls running.",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pullengine_retries_total",
			Help: "Copies retried after a transient error.",
		}),
	}
	for _, b := range transferBytes(engine.Transfer{}) {
		c.bytes.WithLabelValues(b.kind) // present at zero from the first scrape
	}
	return c
}

// Describe sends the metrics' descriptions.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.collectors() {
		m.Describe(ch)
	}
}

// Collect sends the metrics' values.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.collectors() {
		m.Collect(ch)
	}
}

func (c *Collector) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.pulls, c.duration, c.bytes, c.inFlight, c.retries}
}

// PullStarted counts a pull in flight.
func (c *Collector) PullStarted() { c.inFlight.Inc() }

// PullFinished counts a finished pull: its outcome, duration and bytes.
func (c *Collector) PullFinished(res *engine.Result, err error, d time.Duration) {
	c.inFlight.Dec()
	c.duration.Observe(d.Seconds())
	outcome, kind := outcomeFailed, ""
	switch {
	case err != nil || res == nil:
		kind = pullerrors.Classify(err).String()
	case res.Outcome == engine.LocalFallback && res.RemoteErr != nil:
		outcome, kind = res.Outcome.String(), pullerrors.Classify(res.RemoteErr).String()
	default:
		outcome = res.Outcome.String()
	}
	c.pulls.WithLabelValues(outcome, kind).Inc()
	if res == nil {
		return
	}
	for _, b := range transferBytes(res.Transfer) {
		if b.n > 0 {
			c.bytes.WithLabelValues(b.kind).Add(float64(b.n))
		}
	}
}

// transferBytes are t's byte counts under their pullengine_bytes_total
// kind label: the one list of those labels.
func transferBytes(t engine.Transfer) [4]struct {
	kind string
	n    int64
} {
	return [4]struct {
		kind string
		n    int64
	}{{"fetched", t.BytesFetched}, {"reused", t.BytesReused}, {"resumed", t.BytesResumed}, {"discarded", t.BytesDiscarded}}
}

// PullRetrying counts a retry.
func (c *Collector) PullRetrying(error) { c.retries.Inc() }
