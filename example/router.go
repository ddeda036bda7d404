package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
	"github.com/rs/cors"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/policy"
)

// settings are the example's own knobs.
type settings struct {
	// InitialAccessToken checks DCR_INITIAL_ACCESS_TOKEN; nil means
	// registration is open.
	InitialAccessToken func(ctx context.Context, token string) error
	RateLimit          int      // DCR_RATE_LIMIT: registrations per minute per client IP; 0 means no limit
	CORSOrigins        []string // DCR_CORS_ORIGINS
}

func settingsFromEnv() (settings, error) {
	s := settings{RateLimit: 60, CORSOrigins: []string{"*"}}
	if v := os.Getenv("DCR_INITIAL_ACCESS_TOKEN"); v != "" {
		verify, err := dcr.StaticTokens(v)
		if err != nil {
			return s, fmt.Errorf("DCR_INITIAL_ACCESS_TOKEN: %w", err)
		}
		s.InitialAccessToken = verify
	}
	if v := os.Getenv("DCR_RATE_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s, fmt.Errorf("DCR_RATE_LIMIT %q is not a number of registrations per minute (0 turns the limit off)", v)
		}
		s.RateLimit = n
	}
	if v := os.Getenv("DCR_CORS_ORIGINS"); v != "" {
		s.CORSOrigins = s.CORSOrigins[:0]
		for _, origin := range strings.Split(v, ",") {
			if origin = strings.TrimSpace(origin); origin != "" {
				s.CORSOrigins = append(s.CORSOrigins, origin)
			}
		}
		if len(s.CORSOrigins) == 0 {
			return s, fmt.Errorf("DCR_CORS_ORIGINS %q names no origin", v)
		}
	}
	return s, nil
}

// newRouter mounts the DCR endpoints on a chi router behind the
// middleware of a real deployment, with metrics made from the handler's
// audit events at /metrics.
func newRouter(backend dcr.Backend, s settings, logger *slog.Logger) http.Handler {
	m := newMetrics()
	r := chi.NewRouter()
	// The server faces clients directly; behind a proxy, use
	// middleware.ClientIPFromXFF with the proxy's addresses instead.
	r.Use(middleware.ClientIPFromRemoteAddr)
	r.Use(logRequests(logger))
	r.Use(cors.New(cors.Options{
		AllowedOrigins: s.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type"},
		ExposedHeaders: []string{"WWW-Authenticate", "Retry-After"},
		MaxAge:         600,
	}).Handler)

	opts := dcr.Options{
		Logger: logger,
		Policies: []dcr.Policy{
			policy.NativeLoopback(), // desktop MCP clients that omit application_type
			policy.MaxRedirectURIs(10),
		},
		Audit: m.record,
	}
	opts.InitialAccessToken = s.InitialAccessToken
	h := dcr.New(backend, opts)
	if s.RateLimit > 0 {
		limit := httprate.LimitBy(s.RateLimit, time.Minute,
			func(r *http.Request) (string, error) {
				return httprate.CanonicalizeIP(middleware.GetClientIP(r.Context())), nil
			},
			httprate.WithLimitHandler(tooManyRequests))
		dcr.Mount(r.With(onRegistration(limit)), "/register", h)
	} else {
		dcr.Mount(r, "/register", h)
	}
	// In production, serve metrics on an internal address instead.
	r.Handle("GET /metrics", m)
	return r
}
