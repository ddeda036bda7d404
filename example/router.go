package main

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/redis/go-redis/v9"
	"github.com/rs/cors"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/policy"
)

// reservedNames are the client names of well-known MCP clients, each with
// the redirect hosts it really uses (loopback redirect URIs are always
// allowed: desktop clients use them).
var reservedNames = map[string][]string{
	"Claude":    {"claude.ai", "*.claude.ai", "claude.com", "*.claude.com", "anthropic.com", "*.anthropic.com"},
	"Anthropic": {"claude.ai", "*.claude.ai", "claude.com", "*.claude.com", "anthropic.com", "*.anthropic.com"},
	"ChatGPT":   {"chatgpt.com", "*.chatgpt.com", "openai.com", "*.openai.com"},
	"OpenAI":    {"chatgpt.com", "*.chatgpt.com", "openai.com", "*.openai.com"},
}

// newRouter mounts the DCR endpoints on a chi router behind the
// middleware of a real deployment, with /healthz, /readyz and, from the
// handler's audit events, /metrics. rdb, if not nil, holds the rate
// limits; ready, if not nil, answers /readyz.
func newRouter(backend dcr.Backend, s settings, logger *slog.Logger, rdb *redis.Client, ready *readiness) http.Handler {
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

	policies := []dcr.Policy{
		policy.NativeLoopback(), // desktop MCP clients that omit application_type
		policy.MaxRedirectURIs(10),
		policy.ReservedNames(reservedNames), // no "Claude" with an attacker's redirect URI
	}
	if s.AllowedScopes != nil {
		policies = append(policies, policy.AllowedScopes(s.AllowedScopes...))
	}
	if s.DefaultScope != "" {
		policies = append(policies, policy.DefaultScope(s.DefaultScope))
	}
	h := dcr.New(backend, dcr.Options{
		Logger:             logger,
		Policies:           policies,
		InitialAccessToken: s.InitialAccessToken,
		Audit:              m.record,
	})
	limits := byEndpoint(
		limiter(s.RateLimit, "register", rdb, logger, m, "Too many registrations from this address; try again later."),
		limiter(s.ManagementRateLimit, "manage", rdb, logger, m, "Too many client configuration requests from this address; try again later."))
	dcr.Mount(r.With(limits), "/register", h)

	r.Get("/healthz", serveHealth)
	if ready != nil {
		r.Get("/readyz", ready.serveReady)
	}
	// In production, serve metrics on an internal address instead.
	r.Handle("GET /metrics", m.handler())
	return r
}
