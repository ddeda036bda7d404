package main

import (
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// logRequests logs one line per request. It never logs a header, nor the
// value of a query parameter: a client that wrongly puts a token in the
// URL (access_token=, jwt=, ...) must not leave it in the log.
func logRequests(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("query", queryNames(r.URL.RawQuery)),
				slog.Int("status", ww.Status()),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Duration("duration", time.Since(start)),
				slog.String("client_ip", middleware.GetClientIP(r.Context())))
		})
	}
}

// queryNames returns the names of the query's parameters, sorted and
// without values. A parameter without '=' (a token sent as "?eyJ...") or
// whose name does not look like one is shown as "?".
func queryNames(raw string) string {
	if raw == "" {
		return ""
	}
	var names []string
	for _, part := range strings.Split(raw, "&") {
		name, _, found := strings.Cut(part, "=")
		if name, err := url.QueryUnescape(name); err != nil || !found || !plainName(name) {
			names = append(names, "?")
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ",")
}

// plainName reports whether s is short and made of letters, digits, '_',
// '-' and '.': a parameter name, not a secret.
func plainName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
