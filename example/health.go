package main

import (
	"context"
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

// readiness knows whether Authlete answers with these credentials. It asks
// in the background, never on a probe's request: probes are answered at
// once, and no caller can make the server spend Authlete's quota.
type readiness struct {
	ready atomic.Bool
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

// set records the result of a check, logging a change.
func (r *readiness) set(err error, logger *slog.Logger) {
	was := r.ready.Swap(err == nil)
	switch {
	case err == nil && !was:
		logger.Info("ready: Authlete accepts the credentials")
	case err != nil && was:
		logger.Warn("not ready: Authlete does not answer", "error", err)
	}
}

// serveReady answers /readyz: 200 when the last check passed, 503 when not.
func (r *readiness) serveReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !r.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"status":"not ready","authlete":"unreachable or failing"}`)
		return
	}
	io.WriteString(w, `{"status":"ready"}`)
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
