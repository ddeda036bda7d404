package main

import (
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"

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

func TestIsLoopbackURL(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://127.0.0.1:9000": true, "http://localhost": true, "http://LOCALHOST:1": true, "http://[::1]:80": true,
		"http://127.8.9.10": true, "http://api.example": false, "http://10.0.0.1": false, "https://us.authlete.com": false,
		"http://localhost.evil.example": false, "://": false,
	} {
		assert.Equal(t, want, isLoopbackURL(raw), raw)
	}
}
