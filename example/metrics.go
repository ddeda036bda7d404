package main

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/dcr-go/dcr"
)

// metrics turns the handler's audit events into counters, served in the
// Prometheus text format. A real deployment would use its metrics library
// in record the same way.
type metrics struct {
	mu       sync.Mutex
	requests map[[3]string]uint64 // op, status, error → count
	seconds  map[string]float64   // op → total duration
}

func newMetrics() *metrics {
	return &metrics{requests: map[[3]string]uint64{}, seconds: map[string]float64{}}
}

// record is an Options.Audit hook.
func (m *metrics) record(e dcr.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[3]string{e.Op, strconv.Itoa(e.Status), e.Error}]++
	m.seconds[e.Op] += e.Duration.Seconds()
}

func (m *metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# TYPE dcr_requests_total counter")
	keys := make([][3]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [3]string) int {
		return slices.Compare(a[:], b[:])
	})
	for _, k := range keys {
		fmt.Fprintf(w, "dcr_requests_total{op=%q,status=%q,error=%q} %d\n", k[0], k[1], k[2], m.requests[k])
	}
	fmt.Fprintln(w, "# TYPE dcr_request_duration_seconds_sum counter")
	ops := make([]string, 0, len(m.seconds))
	for op := range m.seconds {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		fmt.Fprintf(w, "dcr_request_duration_seconds_sum{op=%q} %g\n", op, m.seconds[op])
	}
}
