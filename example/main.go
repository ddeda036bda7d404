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
	"github.com/dcr-go/dcr/internal/authleteapi"
	"github.com/dcr-go/dcr/internal/loopback"
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

func main() {
	flags := flag.NewFlagSet("example", flag.ExitOnError)
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), usage())
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
	a, err := build(ctx, addr, s, logger)
	if err != nil {
		return err
	}
	defer a.close()
	return a.serve(ctx, ready)
}

// An app is the example built: listening, with what it serves with open,
// not yet serving.
type app struct {
	s        settings
	logger   *slog.Logger
	ln       net.Listener
	localURL string // the listener's
	srv      *http.Server
	drain    *drainer
	closers  []func() // what close closes, last first
}

func (a *app) onClose(f func()) { a.closers = append(a.closers, f) }

// close closes what build opened, in the reverse order.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// build opens what the example serves with: the listener, the trace
// exporter, the Authlete client (or the embedded emulator), Redis and the
// metrics listener; it checks the Authlete credentials and the service's
// settings. On error it closes what it opened.
func build(ctx context.Context, addr string, s settings, logger *slog.Logger) (_ *app, err error) {
	a := &app{s: s, logger: logger}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	// life outlives ctx until the last answer: the embedded emulator and
	// the readiness checks run until run returns.
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.onClose(cancel)
	publicURL, err := a.listen(addr)
	if err != nil {
		return nil, err
	}
	registrationEndpoint := publicURL + "/register"

	// The embedded emulator keeps clients in memory, per process: fine on
	// a developer's machine, silent data loss in a deployment.
	emulatorImplied := a.ln.Addr().(*net.TCPAddr).IP.IsLoopback() && (s.PublicURL == "" || isLoopbackURL(s.PublicURL))
	tr, err := tracingFromEnv(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTEL_*: %w", err)
	}
	a.onClose(func() {
		flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.close(flush); err != nil {
			logger.Warn("traces not flushed", "error", err)
		}
	})
	client, err := newClient(life, registrationEndpoint, s.EmbeddedEmulator || emulatorImplied, s.MetadataPolicyJSON, tr.httpClient(), logger)
	if err != nil {
		return nil, err
	}
	checked := checkCredentials(ctx, client, logger)
	if errors.Is(checked, errRefused) {
		return nil, checked
	}
	m := newMetrics()
	store := a.connectRedis(ctx, m)
	health := &readiness{store: store}
	health.set(checked, logger)
	if checked == nil {
		reportService(ctx, client, registrationEndpoint, a.s, logger)
	}
	go health.watch(life, client, logger)
	metricsAt, err := a.serveMetrics(m)
	if err != nil {
		return nil, err
	}

	backend := &uriWatcher{Backend: client, want: registrationEndpoint + "/", logger: logger}
	a.drain = &drainer{health: health}
	a.srv = newServer(a.drain.wrap(tr.handler(newRouter(backend, a.s, logger, m, store, health))))
	s = a.s // with the initial access tokens of DCR_IAT_STORE
	if everyone := trustsEveryone(s.TrustedProxies); everyone != "" {
		logger.Warn("DCR_TRUSTED_PROXIES trusts every address ("+everyone+"): any client can set its own address in X-Forwarded-For "+
			"and pass the per-address rate limits; name the proxies' own ranges unless nothing but the proxies can reach this server",
			"trusted_proxies", strings.Join(s.TrustedProxies, ","))
	}
	logger.Info("serving DCR endpoints", "register", registrationEndpoint, "listen", a.ln.Addr().String(),
		"initial_access_token", s.InitialAccessToken != nil, "iat_store", s.IATStore, "rate_limit_per_minute", s.RateLimit,
		"management_rate_limit_per_minute", s.ManagementRateLimit,
		"rate_limit_networks", len(s.NetworkRateLimits), "rate_limit_global_per_minute", s.GlobalRateLimit, "rate_limit_store", storeName(s.Redis),
		"trusted_proxies", strings.Join(s.TrustedProxies, ","), "metrics", metricsAt, "tracing", tr.on())
	return a, nil
}

// listen opens the public listener, and returns the base URL clients
// reach it at.
func (a *app) listen(addr string) (publicURL string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	a.onClose(func() { ln.Close() })
	a.ln, a.localURL = ln, "http://"+ln.Addr().String()
	if a.s.PublicURL != "" {
		return a.s.PublicURL, nil
	}
	if tcp := ln.Addr().(*net.TCPAddr); tcp.IP.IsUnspecified() {
		a.logger.Warn("listening on all interfaces without DCR_PUBLIC_URL: registration_client_uri will name localhost; set DCR_PUBLIC_URL to the URL clients reach this server at")
		return "http://localhost:" + strconv.Itoa(tcp.Port), nil
	}
	return a.localURL, nil
}

// connectRedis opens the Redis of DCR_REDIS_URL, where the rate limits
// are counted and, with DCR_IAT_STORE=redis, the initial access tokens
// kept; it returns nil without DCR_REDIS_URL. A Redis that does not answer
// is logged, and the limits fall back to memory until it does.
func (a *app) connectRedis(ctx context.Context, m *metrics) *limitStore {
	if a.s.Redis == nil {
		return nil
	}
	rdb := newRedis(a.s.Redis)
	a.onClose(func() { rdb.Close() })
	store := newLimitStore(rdb, a.logger, m)
	if a.s.IATStore == "redis" {
		tokens := iatredis.New(rdb)
		a.s.InitialAccessToken, a.s.RefundInitialAccessToken = tokens.Spend, tokens.Refund
	}
	ping, cancel := context.WithTimeout(ctx, redisCallTimeout)
	defer cancel()
	if err := rdb.Ping(ping).Err(); err != nil {
		store.failed("ping", err)
	}
	return store
}

// serveMetrics serves /metrics on DCR_METRICS_ADDR, if set, and returns
// where /metrics is served.
func (a *app) serveMetrics(m *metrics) (string, error) {
	if a.s.MetricsAddr == "" {
		return metricsURL(nil), nil
	}
	ln, err := net.Listen("tcp", a.s.MetricsAddr)
	if err != nil {
		return "", fmt.Errorf("DCR_METRICS_ADDR: %w", err)
	}
	a.onClose(func() { ln.Close() })
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.handler())
	srv := newServer(mux)
	go srv.Serve(ln)
	a.onClose(func() { srv.Close() })
	return metricsURL(ln), nil
}

// serve serves until ctx is done, then drains (see run).
func (a *app) serve(ctx context.Context, ready func(baseURL string)) error {
	if ready != nil {
		ready(a.localURL)
	}
	served := make(chan error, 1)
	go func() { served <- a.srv.Serve(a.ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	return a.drain.shutdown(a.srv, served, a.s.ShutdownDrain, a.logger)
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
			logger.Warn("AUTHLETE_BASE_URL is http on a host that is not loopback: the service access token crosses the network in clear; use https", "authlete_base_url", authleteapi.ShownURL(cfg.BaseURL))
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
// address: see loopback.Host.
func isLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && loopback.Host(u.Hostname())
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
