package main

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dcr-go/dcr"
)

// metrics are the example's Prometheus metrics, in a registry of their
// own (no global state): the handler's audit events as a counter and a
// latency histogram by operation, the requests the rate limits refused
// and the rate limiter's store failures.
type metrics struct {
	registry           *prometheus.Registry
	requests           *prometheus.CounterVec
	duration           *prometheus.HistogramVec
	limiterStoreErrors *prometheus.CounterVec
	limitStoreUp       prometheus.Gauge
	rateLimited        *prometheus.CounterVec

	// counters and observers cache the children of requests and duration
	// that record uses, so that a request does not hash its labels: keys
	// are requestLabels and ops. They hold what the vectors hold, no more.
	counters  sync.Map // requestLabels → prometheus.Counter
	observers sync.Map // op → prometheus.Observer
}

// requestLabels are the labels of dcr_requests_total.
type requestLabels struct {
	op     dcr.Op
	status int
	error  dcr.ErrorCode
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dcr_requests_total",
			Help: "DCR requests by operation, HTTP status and OAuth error code.",
		}, []string{"op", "status", "error"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dcr_request_duration_seconds",
			Help:    "Time to answer a DCR request, Authlete's call included, by operation.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 40},
		}, []string{"op"}),
		limiterStoreErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dcr_rate_limit_store_errors_total",
			Help: "Failed calls to the rate limit's Redis; each made the limits count in memory for a second.",
		}, []string{"limit"}),
		limitStoreUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dcr_rate_limit_store_up",
			Help: "1 when the rate limits count in Redis, 0 while they count in memory because Redis fails (absent without DCR_REDIS_URL).",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dcr_rate_limited_total",
			Help: "Requests refused with 429 by a rate limit: register (per address), register_network (DCR_RATE_LIMIT_NETWORKS), register_global (DCR_RATE_LIMIT_GLOBAL), manage.",
		}, []string{"limit"}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.limiterStoreErrors, m.rateLimited)
	return m
}

// record is an Options.Audit hook.
func (m *metrics) record(e dcr.Event) {
	key := requestLabels{e.Op, e.Status, e.ErrorCode}
	c, ok := m.counters.Load(key)
	if !ok {
		c, _ = m.counters.LoadOrStore(key, m.requests.WithLabelValues(string(e.Op), strconv.Itoa(e.Status), string(e.ErrorCode)))
	}
	c.(prometheus.Counter).Inc()
	o, ok := m.observers.Load(e.Op)
	if !ok {
		o, _ = m.observers.LoadOrStore(e.Op, m.duration.WithLabelValues(string(e.Op)))
	}
	o.(prometheus.Observer).Observe(e.Duration.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
