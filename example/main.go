// Command example is an authorization server's DCR endpoints on a chi
// router: POST /register (RFC 7591) and GET, PUT, DELETE
// /register/{client_id} (RFC 7592), with what a deployment needs: request
// logging that never writes a token, initial access tokens (static, or
// counted in Redis), registration policies (URI rules, look-alike names, a
// metadata policy, software statements, scopes), CORS for browser-based
// clients, per-address rate limits (in Redis when several replicas share
// them) behind trusted proxies, a start-up check of the Authlete
// credentials and of the service's settings, /healthz, /readyz, /metrics
// and OpenTelemetry traces.
//
//	go run -C ./example . -addr 127.0.0.1:8080   # from the repository root
//
// With the AUTHLETE_* variables set it calls that Authlete service;
// without them, on a loopback address, it starts an embedded Authlete
// emulator. `-h` lists every variable it reads; docs/deployment.md says
// what each does.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/doctor"
	"github.com/dcr-go/dcr/iatredis"
)

// The time budget. Each call to Authlete, its retries included, ends
// within authleteBudget (authlete.Config.TotalTimeout). A request may take
// readTimeout to arrive, then the Authlete call: the server's
// WriteTimeout leaves a margin beyond both, so that every request gets
// its answer (a 504 at worst) before the server would cut the connection.
const (
	readTimeout    = 15 * time.Second
	authleteBudget = 20 * time.Second
	writeTimeout   = readTimeout + authleteBudget + 5*time.Second
	// startupCheckTimeout bounds the start-up check of the credentials.
	startupCheckTimeout = 10 * time.Second
)

var usage = `Usage: example [-addr host:port]

Serves an authorization server's DCR endpoints: POST /register (RFC 7591)
and GET, PUT, DELETE /register/{client_id} (RFC 7592), with /healthz,
/readyz and /metrics, calling the Authlete service of the AUTHLETE_*
variables. Without them it runs an embedded Authlete emulator (clients in
memory), but only on a loopback address without a public DCR_PUBLIC_URL,
or with DCR_EMBEDDED_EMULATOR=true.

Environment:
` + authlete.EnvUsage + `  DCR_PUBLIC_URL                the URL clients reach the server at, e.g. https://auth.example.com (default: the listening address)
  DCR_EMBEDDED_EMULATOR         true: run the embedded emulator even off loopback (a demo, never production)
  DCR_INITIAL_ACCESS_TOKEN      if set (16 characters at least), registration requires this bearer token
  DCR_SOFTWARE_STATEMENT_ISSUERS
                                ISSUER=JWKS_URL[,ISSUER=JWKS_URL]: verify software statements (RFC 7591 §2.3) of
                                these issuers; their claims win over the request's members
  DCR_SOFTWARE_STATEMENT_REQUIRED
                                true: a registration without a valid software statement is refused
  DCR_IAT_STORE                 redis: registration requires an initial access token issued by dcr-iat, with
                                expiry and uses, kept in DCR_REDIS_URL
  DCR_RATE_LIMIT                registrations per minute per client address (default 60; 0: off)
  DCR_RATE_LIMIT_NETWORKS       CIDR=PER_MINUTE[,...]: registrations from an address in such a network share its
                                budget instead of DCR_RATE_LIMIT each, e.g. 160.79.104.0/21=600 (claude.ai's egress)
  DCR_RATE_LIMIT_GLOBAL         registrations per minute from all addresses together, protecting Authlete (default 0: off)
  DCR_MANAGEMENT_RATE_LIMIT     client configuration requests per minute per client address (default 600; 0: off)
  DCR_REDIS_URL                 redis://[:password@]host:port/db: count the rate limits there, shared by every replica
  DCR_TRUSTED_PROXIES           comma-separated CIDRs of the proxies in front: the client address is then the
                                rightmost X-Forwarded-For entry outside them
  DCR_CORS_ORIGINS              comma-separated origins allowed to call the DCR endpoints from a browser (default *)
  DCR_DEFAULT_SCOPE             the scope of registrations that ask none, e.g. mcp
  DCR_ALLOWED_SCOPES            space-separated scopes a client may register; others are dropped (unset: any)
  DCR_INFO_URIS_ON_REDIRECT_HOST
                                true: logo_uri, client_uri, policy_uri and tos_uri must be on a redirect URI's host
  DCR_METADATA_POLICY           a JSON file: an OpenID Federation 1.0 §6.1 metadata policy for registrations and updates
  DCR_METRICS_ADDR              host:port to serve /metrics on instead of the public address, e.g. 127.0.0.1:9090
  DCR_SHUTDOWN_DRAIN            after SIGTERM or SIGINT, how long /readyz answers 503 while requests are still
                                served, for the load balancer to stop routing here (default ` + defaultShutdownDrain.String() + `); then
                                the server stops listening and gives the requests in flight up to ` + shutdownTimeout.String() + ` to finish.
                                DCR_SHUTDOWN_DRAIN=0 makes Ctrl-C quick on a laptop; a second signal exits at once
  OTEL_EXPORTER_OTLP_ENDPOINT   if set (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), export traces over OTLP/HTTP;
                                the other OTEL_* variables (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS,
                                OTEL_TRACES_SAMPLER, OTEL_SDK_DISABLED, ...) are honoured

Flags:
`

func main() {
	flags := flag.NewFlagSet("example", flag.ExitOnError)
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), usage)
		flags.PrintDefaults()
	}
	flags.SetOutput(os.Stdout)
	addr := flags.String("addr", "127.0.0.1:8080", "address to listen on")
	flags.Parse(os.Args[1:])
	if flags.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "example: unexpected argument %q (see -h)\n", flags.Arg(0))
		os.Exit(2)
	}
	logger := slog.New(newLineHandler(os.Stderr)) // slog.TextHandler's lines, cheaper: see lineHandler
	// go-redis and OpenTelemetry log through process-wide loggers: both
	// go to this one.
	redis.SetLogger(redisLogger{logger})
	otel.SetLogger(logr.FromSlogHandler(logger.Handler()))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { logger.Warn("opentelemetry", "error", err) }))
	// The first signal drains (see run); a second one exits at once.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		logger.Info("signal received: shutting down; a second signal exits at once", "signal", (<-signals).String())
		stop()
		logger.Error("second signal: exiting without waiting for the requests in flight", "signal", (<-signals).String())
		os.Exit(1)
	}()
	if err := run(ctx, *addr, logger, nil); err != nil {
		logger.Error("example stopped", "error", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then drains: /readyz turns 503, requests
// are still served for s.ShutdownDrain, then the server stops listening
// and run returns once the last request in flight is answered. The
// embedded emulator, the metrics listener, the trace exporter and Redis
// close after that. ready, if not nil, is told the base URL once the
// server listens.
func run(ctx context.Context, addr string, logger *slog.Logger, ready func(baseURL string)) error {
	s, err := settingsFromEnv()
	if err != nil {
		return err
	}
	// life outlives ctx until the last answer: the embedded emulator and
	// the readiness checks run until run returns.
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	localURL := "http://" + ln.Addr().String()
	publicURL := s.PublicURL
	if publicURL == "" {
		publicURL = localURL
		if ip := ln.Addr().(*net.TCPAddr).IP; ip.IsUnspecified() {
			publicURL = "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
			logger.Warn("listening on all interfaces without DCR_PUBLIC_URL: registration_client_uri will name localhost; set DCR_PUBLIC_URL to the URL clients reach this server at")
		}
	}
	registrationEndpoint := publicURL + "/register"

	// The embedded emulator keeps clients in memory, per process: fine on
	// a developer's machine, silent data loss in a deployment.
	emulatorImplied := ln.Addr().(*net.TCPAddr).IP.IsLoopback() && (s.PublicURL == "" || isLoopbackURL(s.PublicURL))
	tr, err := tracingFromEnv(ctx)
	if err != nil {
		return fmt.Errorf("OTEL_*: %w", err)
	}
	defer func() {
		flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.close(flush); err != nil {
			logger.Warn("traces not flushed", "error", err)
		}
	}()
	client, err := newClient(life, registrationEndpoint, s.EmbeddedEmulator || emulatorImplied, s.MetadataPolicyJSON, tr.httpClient(), logger)
	if err != nil {
		return err
	}
	checked := checkCredentials(ctx, client, logger)
	if errors.Is(checked, errRefused) {
		return checked
	}
	m := newMetrics()
	var store *limitStore
	if s.Redis != nil {
		rdb := newRedis(s.Redis)
		defer rdb.Close()
		store = newLimitStore(rdb, logger, m)
		if s.IATStore == "redis" {
			tokens := iatredis.New(rdb)
			s.InitialAccessToken, s.RefundInitialAccessToken = tokens.Spend, tokens.Refund
		}
		ping, cancel := context.WithTimeout(ctx, redisCallTimeout)
		if err := rdb.Ping(ping).Err(); err != nil {
			store.failed("ping", err)
		}
		cancel()
	}
	health := &readiness{store: store}
	health.set(checked, logger)
	if checked == nil {
		reportService(ctx, client, registrationEndpoint, s, logger)
	}
	go health.watch(life, client, logger)

	var metricsLn net.Listener
	if s.MetricsAddr != "" {
		metricsLn, err = net.Listen("tcp", s.MetricsAddr)
		if err != nil {
			return fmt.Errorf("DCR_METRICS_ADDR: %w", err)
		}
		defer metricsLn.Close()
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.handler())
		metricsSrv := newServer(mux)
		go metricsSrv.Serve(metricsLn)
		defer metricsSrv.Close()
	}

	backend := &uriWatcher{Backend: client, want: registrationEndpoint + "/", logger: logger}
	drain := &drainer{health: health}
	srv := newServer(drain.wrap(tr.handler(newRouter(backend, s, logger, m, store, health))))
	logger.Info("serving DCR endpoints", "register", registrationEndpoint, "listen", ln.Addr().String(),
		"initial_access_token", s.InitialAccessToken != nil, "iat_store", s.IATStore, "rate_limit_per_minute", s.RateLimit,
		"management_rate_limit_per_minute", s.ManagementRateLimit,
		"rate_limit_networks", len(s.NetworkRateLimits), "rate_limit_global_per_minute", s.GlobalRateLimit, "rate_limit_store", storeName(s.Redis),
		"trusted_proxies", strings.Join(s.TrustedProxies, ","), "metrics", metricsURL(metricsLn), "tracing", tr.on())
	if ready != nil {
		ready(localURL)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	return drain.shutdown(srv, served, s.ShutdownDrain, logger)
}

func storeName(opts *redis.Options) string {
	if opts == nil {
		return "memory"
	}
	return "redis"
}

// metricsURL is where /metrics is served: on its own listener, or on the
// public one.
func metricsURL(ln net.Listener) string {
	if ln == nil {
		return "/metrics on the public address"
	}
	return "http://" + ln.Addr().String() + "/metrics"
}

// checkCredentials proves the Authlete credentials at start-up. It
// returns an error wrapping errRefused when Authlete refuses them, and
// another error when Authlete cannot tell (unreachable, hanging, failing).
func checkCredentials(ctx context.Context, c *authlete.Client, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, startupCheckTimeout)
	defer cancel()
	err := c.Check(ctx)
	var ae *authlete.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae) && ae.Refused():
		return fmt.Errorf("%w (%v)", errRefused, err)
	}
	logger.Warn("Authlete does not answer the start-up check; serving, and /readyz says not ready until it does", "error", err)
	return err
}

// reportService logs each setting of the Authlete service that breaks DCR
// or MCP clients (package doctor). A service access token that may not
// read the service is worth a warning, not a failure.
func reportService(ctx context.Context, c *authlete.Client, registrationEndpoint string, s settings, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, startupCheckTimeout)
	defer cancel()
	clamps := s.AllowedScopes != nil || s.DefaultScope != "" || (s.MetadataPolicy != nil && s.MetadataPolicy.Governs("scope"))
	findings, err := doctor.Diagnose(ctx, c, doctor.Deployment{RegistrationEndpoint: registrationEndpoint, ClampsScopes: clamps,
		MetadataPolicy: s.MetadataPolicy})
	var ae *authlete.Error
	switch {
	case errors.As(err, &ae) && ae.StatusCode == http.StatusForbidden:
		logger.Warn("the service access token may not read the service's settings; they were not checked (go run ./cmd/dcr-doctor with a token that may)")
		return
	case err != nil:
		logger.Warn("the service's settings could not be read; they were not checked", "error", err)
		return
	}
	for _, f := range findings {
		level := slog.LevelWarn
		if f.Severity == doctor.Error {
			level = slog.LevelError
		}
		logger.Log(ctx, level, "Authlete service setting breaks DCR clients", "setting", f.Setting, "problem", f.Problem, "fix", f.Fix)
	}
}

// newClient returns a client of the Authlete service of the AUTHLETE_*
// variables or, when none is set, of an embedded emulator on 127.0.0.1
// that runs until ctx is done. registrationEndpoint is the base of the
// emulator's registration_client_uri.
func newClient(ctx context.Context, registrationEndpoint string, allowEmulator bool, cimdPolicy string, httpClient *http.Client, logger *slog.Logger) (*authlete.Client, error) {
	cfg := authlete.ConfigFromEnv()
	if cfg == (authlete.Config{}) && !allowEmulator {
		return nil, errNoAuthlete
	}
	if cfg == (authlete.Config{}) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		// A service configured as the doctor recommends, so that it
		// reports nothing.
		emulator := authletetest.New(authletetest.Options{ManagementEndpoint: registrationEndpoint, DCRScopeUsedAsRequestable: true,
			CIMD: authletetest.CIMDSettings{Supported: true, HTTPAliasProhibited: true, AllowlistEnabled: true,
				Allowlist: []string{"claude.ai", "chatgpt.com", "cursor.com"}, MetadataPolicyEnabled: true, MetadataPolicy: cimdPolicy}})
		srv := newServer(emulator)
		go srv.Serve(ln)
		go func() { <-ctx.Done(); srv.Close() }()
		opts := emulator.Options()
		cfg = authlete.Config{BaseURL: "http://" + ln.Addr().String(), ServiceAPIKey: opts.ServiceID, ServiceAccessToken: opts.AccessToken}
		logger.Info("AUTHLETE_* not set: using the embedded Authlete emulator; clients live in memory until exit",
			"authlete_base_url", cfg.BaseURL)
	} else {
		logger.Info("using Authlete", "authlete", cfg)
		if u, err := url.Parse(cfg.BaseURL); err == nil && u.Scheme == "http" && !isLoopbackURL(cfg.BaseURL) {
			logger.Warn("AUTHLETE_BASE_URL is http on a host that is not loopback: the service access token crosses the network in clear; use https", "authlete_base_url", cfg.BaseURL)
		}
	}
	cfg.TotalTimeout = authleteBudget
	cfg.HTTPClient = httpClient
	return authlete.New(cfg)
}

// errNoAuthlete stops a deployment that would silently keep its clients in
// an in-memory emulator.
var errNoAuthlete = errors.New("no Authlete service configured: set AUTHLETE_BASE_URL, AUTHLETE_SERVICE_APIKEY and AUTHLETE_SERVICE_ACCESSTOKEN " +
	"(API v2: AUTHLETE_API_VERSION=V2, AUTHLETE_SERVICE_APIKEY and AUTHLETE_SERVICE_APISECRET); the embedded emulator, which keeps clients in memory, " +
	"starts by itself only on a loopback address without a public DCR_PUBLIC_URL: set DCR_EMBEDDED_EMULATOR=true to run it anyway")

// isLoopbackURL reports whether the host of raw is localhost or a loopback
// address.
func isLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newServer sets the timeouts that keep slow clients from holding
// connections, and that let every request be answered: see the budget.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
}

// uriWatcher checks the first registration that Authlete accepts, and
// warns when its registration_client_uri does not start with want, the
// example's public registration endpoint: with real Authlete, the
// service's registrationManagementEndpoint must be it, or clients are sent
// elsewhere for RFC 7592. Later registrations are passed through
// untouched.
type uriWatcher struct {
	dcr.Backend
	want   string
	logger *slog.Logger
	once   sync.Once
}

func (u *uriWatcher) Register(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	resp, err := u.Backend.Register(ctx, req)
	if err == nil && resp.Action == authlete.ActionCreated {
		u.once.Do(func() { u.check(resp.ResponseContent) })
	}
	return resp, err
}

func (u *uriWatcher) check(responseContent string) {
	var content struct {
		URI string `json:"registration_client_uri"`
	}
	if json.Unmarshal([]byte(responseContent), &content) == nil && !strings.HasPrefix(content.URI, u.want) {
		u.logger.Warn("Authlete's registration_client_uri is not under this server's registration endpoint: "+
			"set the service's registrationManagementEndpoint to it in Authlete's console",
			"registration_client_uri", content.URI, "want_prefix", u.want)
	}
}
