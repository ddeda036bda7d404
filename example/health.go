package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/dcr-go/dcr/authlete"
)

// checkInterval is how often readiness asks Authlete, and so how old the
// answer of /readyz can be.
const checkInterval = 5 * time.Second

// failuresBeforeNotReady is how many checks in a row must fail before a
// ready server says it is not: one lost answer must not take a replica
// out of its load balancer.
const failuresBeforeNotReady = 3

// readiness knows whether Authlete answers with these credentials. It asks
// in the background, never on a probe's request: probes are answered at
// once, and no caller can make the server spend Authlete's quota.
type readiness struct {
	ready    atomic.Bool
	draining atomic.Bool // set at the shutdown signal: not ready from then on
	failures int         // checks failed in a row; only set touches it
	store    *limitStore // the rate limits' Redis, if any, for the details
}

// watch checks every checkInterval until ctx is done, logging changes.
func (r *readiness) watch(ctx context.Context, c *authlete.Client, logger *slog.Logger) {
	t := time.NewTicker(checkInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		check, cancel := context.WithTimeout(ctx, checkInterval)
		err := c.Check(check)
		cancel()
		if ctx.Err() != nil {
			return
		}
		r.set(err, logger)
	}
}

// set records the result of a check, logging a change. A ready server
// turns not ready after failuresBeforeNotReady failed checks in a row; one
// that is not ready turns ready at the first check that passes. It is
// called by one goroutine at a time.
func (r *readiness) set(err error, logger *slog.Logger) {
	if err == nil {
		r.failures = 0
		if !r.ready.Swap(true) {
			logger.Info("ready: Authlete accepts the credentials")
		}
		return
	}
	r.failures++
	if r.ready.Load() && r.failures < failuresBeforeNotReady {
		logger.Warn("Authlete did not answer a readiness check; still ready", "failures_in_a_row", r.failures, "error", err)
		return
	}
	if r.ready.Swap(false) {
		logger.Warn("not ready: Authlete does not answer", "failures_in_a_row", r.failures, "error", err)
	}
}

// serveReady answers /readyz: 200 when Authlete answers, 503 when not,
// and 503 from the shutdown signal on, so that the load balancer stops
// routing here while the server drains. The rate limits' store is a
// detail: without it they count in memory, and the server still serves.
// The body is public: fixed phrases, never an error's text.
func (r *readiness) serveReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	body := map[string]string{"status": "ready"}
	if r.store != nil {
		body["rate_limit_store"] = r.store.status()
	}
	switch {
	case r.draining.Load():
		body["status"] = "draining"
		w.WriteHeader(http.StatusServiceUnavailable)
	case !r.ready.Load():
		body["status"], body["authlete"] = "not ready", "unreachable or failing"
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(body)
}

// serveHealth answers /healthz: the process is alive.
func serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, `{"status":"alive"}`)
}

// errRefused wraps the start-up check's error when Authlete refuses the
// credentials.
var errRefused = errors.New("Authlete refused the service credentials: check AUTHLETE_BASE_URL, AUTHLETE_SERVICE_APIKEY and AUTHLETE_SERVICE_ACCESSTOKEN (or, for API v2, AUTHLETE_SERVICE_APISECRET)")
