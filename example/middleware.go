package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/internal/tokenshape"
)

// logRequests logs one line per request: the request (method, route,
// path, query parameter names, status, bytes, duration, client address)
// and, for the DCR endpoints, what the handler's audit event says (op,
// client_id, action, result_code, error, err: see auditInto). It never
// logs a header, nor the value of a query parameter, nor the credentials
// of the Authorization header where the path repeats them: a client that
// wrongly puts a token in the URL (access_token=, jwt=, ...) must not
// leave it in the log, nor one of the tokens the example knows, known
// (DCR_INITIAL_ACCESS_TOKEN), with the header or without it. A status of
// 500 or more is logged at Error.
func logRequests(logger *slog.Logger, known ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			line := &requestLine{}
			next.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), requestLineKey{}, line)))
			end := time.Now()
			status := ww.Status()
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			if !logger.Enabled(r.Context(), level) {
				return
			}
			route := ""
			if rc := chi.RouteContext(r.Context()); rc != nil {
				route = rc.RoutePattern()
			}
			secrets := credentials(r, known)
			attrs := make([]slog.Attr, 0, 15)
			attrs = append(attrs,
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", withoutCredentials(r.URL.Path, secrets)),
				slog.String("query", queryNames(r.URL.RawQuery)),
				slog.Int("status", status),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Duration("duration", end.Sub(start)),
				slog.String("client_ip", middleware.GetClientIP(r.Context())))
			if e := line.event; line.audited {
				attrs = append(attrs,
					slog.String("op", string(e.Op)),
					slog.String("client_id", withoutCredentials(e.ClientID, secrets)),
					slog.String("action", string(e.Action)),
					slog.String("result_code", e.ResultCode),
					slog.String("error", string(e.ErrorCode)))
				if e.Err != nil {
					attrs = append(attrs, slog.String("err", e.Err.Error()))
				}
			}
			// The record's source would be this function: it has none,
			// which spares slog looking it up.
			record := slog.NewRecord(end, level, "request", 0)
			record.AddAttrs(attrs...)
			logger.Handler().Handle(r.Context(), record)
		})
	}
}

// credentials are the words of r's Authorization header and the tokens
// known, for withoutCredentials.
func credentials(r *http.Request, known []string) []string {
	return append(strings.Fields(r.Header.Get("Authorization")), known...)
}

// withoutCredentials returns s without the credentials (each of 8
// characters or more), and without whatever looks like a token
// (tokenshape.Redact): a client that puts its token in the path, with
// the header or without it, must not leave it in the log.
func withoutCredentials(s string, credentials []string) string {
	for _, word := range credentials {
		if len(word) >= 8 {
			s = strings.ReplaceAll(s, word, "REDACTED")
		}
	}
	return tokenshape.Redact(s)
}

// requestLine is what the DCR handler's audit event adds to a request's
// line.
type requestLine struct {
	event   dcr.Event
	audited bool
}

type requestLineKey struct{}

// auditInto is the handler's Options.Audit: the event goes into the line
// logRequests writes for the request, and into the metrics. Outside
// logRequests (a test's router) it goes to the metrics only.
func auditInto(m *metrics) func(context.Context, dcr.Event) {
	return func(ctx context.Context, e dcr.Event) {
		m.record(e)
		if line, ok := ctx.Value(requestLineKey{}).(*requestLine); ok {
			line.event, line.audited = e, true
		}
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
