package main

import (
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
)

// TestReadinessNeedsFailuresInARow: one failed check does not take a ready
// replica out of its load balancer; three in a row do; one success brings
// it back.
func TestReadinessNeedsFailuresInARow(t *testing.T) {
	r := &readiness{}
	logger := slog.New(slog.DiscardHandler)
	status := func() int {
		rec := httptest.NewRecorder()
		r.serveReady(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Code
	}
	down := errors.New("down")
	r.set(down, logger)
	assert.Equal(t, 503, status(), "not ready until a check passes")
	r.set(nil, logger)
	assert.Equal(t, 200, status())
	r.set(down, logger)
	r.set(down, logger)
	assert.Equal(t, 200, status(), "two failures in a row")
	r.set(nil, logger)
	r.set(down, logger)
	r.set(down, logger)
	assert.Equal(t, 200, status(), "a success in between starts the count again")
	r.set(down, logger)
	assert.Equal(t, 503, status(), "three in a row")
	r.set(nil, logger)
	assert.Equal(t, 200, status())
}

// TestReadyzHidesStoreErrors: a failing Redis shows on the public /readyz
// as a fixed phrase; the error's text, which names internal addresses,
// reaches the log and the metrics only.
func TestReadyzHidesStoreErrors(t *testing.T) {
	var log syncBuffer
	m := newMetrics()
	store := newLimitStore(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), slog.New(slog.NewTextHandler(&log, nil)), m)
	r := &readiness{store: store}
	r.set(nil, slog.New(slog.DiscardHandler))
	const detail = "read tcp 10.0.3.7:38626->10.0.9.2:6379: i/o timeout"
	store.failed("register", errors.New(detail))

	rec := httptest.NewRecorder()
	r.serveReady(rec, httptest.NewRequest("GET", "/readyz", nil))
	assert.Equal(t, 200, rec.Code, "Redis is a detail")
	assert.JSONEq(t, `{"status":"ready","rate_limit_store":"`+storeFailing+`"}`, rec.Body.String())
	for _, leak := range []string{"10.0", "tcp", "6379", "timeout"} {
		assert.NotContains(t, rec.Body.String(), leak)
	}
	assert.Contains(t, log.String(), detail, "the detail is in the log")
	metrics := httptest.NewRecorder()
	m.handler().ServeHTTP(metrics, httptest.NewRequest("GET", "/metrics", nil))
	assert.Contains(t, metrics.Body.String(), `dcr_rate_limit_store_errors_total{limit="register"} 1`)
	assert.Contains(t, metrics.Body.String(), "dcr_rate_limit_store_up 0")
}

// TestReadyzDraining: from the shutdown signal on, /readyz is 503 even
// though Authlete answers.
func TestReadyzDraining(t *testing.T) {
	r := &readiness{}
	r.set(nil, slog.New(slog.DiscardHandler))
	r.draining.Store(true)
	rec := httptest.NewRecorder()
	r.serveReady(rec, httptest.NewRequest("GET", "/readyz", nil))
	assert.Equal(t, 503, rec.Code)
	assert.JSONEq(t, `{"status":"draining"}`, rec.Body.String())
}
