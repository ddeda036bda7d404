package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// onRegistration applies mw to registration requests (those without a
// client ID) only: the rate limit is for registrations, not for a client
// reading its configuration.
func onRegistration(mw func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		wrapped := mw(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.PathValue("client_id") == "" {
				wrapped.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// tooManyRequests answers a rate-limited registration with an RFC-shaped
// JSON error; httprate has set Retry-After.
func tooManyRequests(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusTooManyRequests)
	io.WriteString(w, `{"error":"temporarily_unavailable","error_description":"Too many registrations from this address; try again later."}`)
}

// logRequests logs one line per request. It never logs a header, and it
// redacts query parameters that may carry credentials, such as an
// access_token a client wrongly puts in the URL.
func logRequests(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("query", redactQuery(r.URL.RawQuery)),
				slog.Int("status", ww.Status()),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Duration("duration", time.Since(start)),
				slog.String("client_ip", middleware.GetClientIP(r.Context())))
		})
	}
}

// redactQuery replaces the values of parameters whose names suggest
// credentials. A query that does not parse is dropped whole.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "REDACTED"
	}
	for name := range q {
		n := strings.ToLower(name)
		for _, s := range []string{"token", "secret", "password", "code", "assertion", "key"} {
			if strings.Contains(n, s) {
				q[name] = []string{"REDACTED"}
				break
			}
		}
	}
	return q.Encode()
}
