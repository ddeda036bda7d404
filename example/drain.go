package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// shutdownTimeout bounds the wait for the requests in flight once the
// server stops listening: the longest a request can take under the
// server's own timeouts (writeTimeout: its arrival, the Authlete budget
// and the write of its answer).
const shutdownTimeout = writeTimeout

// drainer takes the server out of its load balancer before it stops: at
// the shutdown signal /readyz turns 503 while requests are still
// accepted and served for the drain period; then the server stops
// listening and waits for every request in flight. It counts the
// requests in flight, and while it drains it asks each client to close
// its connection after the answer, so that the client's next request goes
// through the load balancer again, to another replica.
type drainer struct {
	health     *readiness
	inFlight   atomic.Int64
	sinceDrain atomic.Int64 // requests that arrived while draining
}

// wrap counts the requests that next serves.
func (d *drainer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.inFlight.Add(1)
		defer d.inFlight.Add(-1)
		if d.health.draining.Load() {
			d.sinceDrain.Add(1)
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// shutdown drains srv, whose Serve reports to served, and returns once the
// last request has been answered: nil, or the error of Serve, or an error
// if requests were still in flight after shutdownTimeout.
func (d *drainer) shutdown(srv *http.Server, served <-chan error, drain time.Duration, logger *slog.Logger) error {
	d.health.draining.Store(true)
	logger.Info("draining: /readyz answers 503; new requests are still served for the drain period (DCR_SHUTDOWN_DRAIN)",
		"drain", drain, "in_flight", d.inFlight.Load())
	t := time.NewTimer(drain)
	defer t.Stop()
	select {
	case <-t.C:
	case err := <-served:
		return err
	}
	logger.Info("drain period over: no new connections; waiting for the requests in flight",
		"in_flight", d.inFlight.Load(), "served_during_drain", d.sinceDrain.Load(), "timeout", shutdownTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	if err != nil {
		srv.Close()
		return fmt.Errorf("requests still in flight %v after the drain: %w", shutdownTimeout, err)
	}
	logger.Info("drained: the last request is answered", "served_during_drain", d.sinceDrain.Load())
	return nil
}
