package main

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
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

// corsAllowedHeaders are the request headers a browser may send to the DCR
// endpoints from another origin: those of RFC 7591/7592, and those that
// browser MCP clients (the MCP TypeScript SDK, MCP Inspector) add.
var corsAllowedHeaders = []string{"Authorization", "Content-Type", "Accept", "MCP-Protocol-Version", "X-Requested-With"}

// corsExposedHeaders are the response headers such a browser may read.
var corsExposedHeaders = []string{"WWW-Authenticate", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}

// newRouter mounts the DCR endpoints on a chi router behind the
// middleware of a real deployment, with /healthz, /readyz and, unless
// metrics is false (DCR_METRICS_ADDR serves them), /metrics. store, if not
// nil, holds the rate limits; ready, if not nil, answers /readyz.
func newRouter(backend dcr.Backend, s settings, logger *slog.Logger, m *metrics, store *limitStore, ready *readiness) http.Handler {
	r := chi.NewRouter()
	answerInJSON(r)
	r.Use(middleware.ClientIPFromRemoteAddr)
	if len(s.TrustedProxies) > 0 {
		// From a trusted proxy: the rightmost X-Forwarded-For entry that
		// is not itself a trusted proxy; from any other peer, the peer.
		r.Use(middleware.ClientIPFromXFF(s.TrustedProxies...))
	}
	r.Use(logRequests(logger, s.staticToken))

	var policies []dcr.Policy
	if s.SoftwareStatements != nil {
		// First: the statement's claims win, and the other policies see them.
		policies = append(policies, policy.SoftwareStatement(s.SoftwareStatementRequired, s.SoftwareStatements.Verify))
	}
	safeURIs := policy.SafeURIs(policy.SafeURIOptions{InfoOnRedirectHost: s.InfoOnRedirectHost}) // no javascript:, no SSRF through jwks_uri
	names := policy.ReservedNames(reservedNames)                                                 // no "Claude" with an attacker's redirect URI
	policies = append(policies,
		safeURIs,
		policy.NativeLoopback(), // desktop MCP clients that omit application_type
		policy.MaxRedirectURIs(10),
		names,
	)
	if s.AllowedScopes != nil {
		policies = append(policies, policy.AllowedScopes(s.AllowedScopes...))
	}
	switch {
	case s.DefaultScope != "":
		policies = append(policies, policy.DefaultScope(s.DefaultScope))
	case s.AllowedScopes != nil:
		// No default: a registration left with no allowed scope gets the
		// allowed ones, never no scope (which Authlete may read as any).
		policies = append(policies, policy.DefaultScope(strings.Join(s.AllowedScopes, " ")))
	}
	if s.MetadataPolicy != nil {
		// Last: its checks see what Authlete will get. The URI and name
		// checks run again on what it leaves: a default grant_types of the
		// device flow, say, would otherwise show a reserved name without a
		// redirect.
		policies = append(policies, s.MetadataPolicy.Policy(), safeURIs, names)
	}
	h := dcr.New(backend, dcr.Options{
		Logger:                   logger,
		Policies:                 policies,
		InitialAccessToken:       s.InitialAccessToken,
		RefundInitialAccessToken: s.RefundInitialAccessToken,
		ClientAddr:               func(r *http.Request) string { return middleware.GetClientIP(r.Context()) },
		Audit:                    auditInto(m), // one line per request: see logRequests
	})
	limits := dcr.Guard{
		Register: registrationLimits(s.RateLimit, s.NetworkRateLimits, s.GlobalRateLimit, store, m),
		Manage: rateLimit{name: "manage", perMinute: s.ManagementRateLimit, key: clientKey,
			description: "Too many client configuration requests from this address; try again later."}.handler(store, m),
	}
	// CORS applies to the DCR endpoints only: browser-based clients
	// register from other origins, but nobody reads the operations
	// endpoints cross-origin.
	dcrRoutes := r.With(cors.New(cors.Options{
		AllowedOrigins: s.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowedHeaders: corsAllowedHeaders,
		ExposedHeaders: corsExposedHeaders,
		MaxAge:         600,
	}).Handler)
	dcr.Mount(dcrRoutes, "/register", h, limits)

	r.Get("/healthz", serveHealth)
	if ready != nil {
		r.Get("/readyz", ready.serveReady)
	}
	if s.MetricsAddr == "" {
		r.Handle("GET /metrics", m.handler())
	}
	return r
}

// The answers of the routes outside the DCR endpoints, in the words of
// the DCR handler's own.
var (
	errNoEndpoint       = &dcr.Error{Status: http.StatusNotFound, Code: dcr.InvalidRequest, Description: "There is no such endpoint."}
	errMethodNotAllowed = &dcr.Error{Status: http.StatusMethodNotAllowed, Code: dcr.InvalidRequest, Description: "The method is not allowed on this endpoint."}
)

// answerInJSON makes r answer its own 404 and 405, which chi writes as
// text, as the DCR handler does.
func answerInJSON(r *chi.Mux) {
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) { dcr.WriteError(w, errNoEndpoint) })
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", strings.Join(allowedMethods(r, req.URL.Path), ", "))
		dcr.WriteError(w, errMethodNotAllowed)
	})
}

// allowedMethods are the methods r routes path for: the Allow header of a
// 405 (chi sets it only in its own 405 handler).
func allowedMethods(r chi.Router, path string) []string {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if r.Match(chi.NewRouteContext(), m, path) {
			allowed = append(allowed, m)
		}
	}
	return allowed
}
