package main

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/dcr-go/dcr"
)

// TestMetricsRecord: each event counts once in its own series, whether
// record has seen its labels before or not.
func TestMetricsRecord(t *testing.T) {
	m := newMetrics()
	events := []dcr.Event{
		{Op: "register", Status: 201},
		{Op: "register", Status: 201},
		{Op: "register", Status: 400, ErrorCode: "invalid_redirect_uri"},
		{Op: "get", Status: 401, ErrorCode: "invalid_token"},
		{Op: "register", Status: 201},
	}
	for _, e := range events {
		e.Duration = 20 * time.Millisecond
		m.record(e)
	}
	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	var series []string
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "dcr_requests_total{") || strings.HasPrefix(line, "dcr_request_duration_seconds_count{") {
			series = append(series, line)
		}
	}
	assert.ElementsMatch(t, []string{
		`dcr_requests_total{error="",op="register",status="201"} 3`,
		`dcr_requests_total{error="invalid_redirect_uri",op="register",status="400"} 1`,
		`dcr_requests_total{error="invalid_token",op="get",status="401"} 1`,
		`dcr_request_duration_seconds_count{op="register"} 4`,
		`dcr_request_duration_seconds_count{op="get"} 1`,
	}, series, rec.Body.String())
}

// BenchmarkMetricsRecord is the metrics' share of a registration.
//
//	go test -run X -bench MetricsRecord -benchmem
func BenchmarkMetricsRecord(b *testing.B) {
	m := newMetrics()
	e := dcr.Event{Op: "register", Status: 201, Duration: 20 * time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		m.record(e)
	}
}
