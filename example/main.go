// Command example is an authorization server's DCR endpoints on a chi
// router: POST /register (RFC 7591) and GET, PUT, DELETE
// /register/{client_id} (RFC 7592), with the middleware a real deployment
// uses: request logging that never writes a token, an optional initial
// access token for registration, CORS for browser-based clients, and a
// per-IP registration rate limit.
//
//	go run ./example -addr 127.0.0.1:8080
//
// With the AUTHLETE_* variables set it calls that Authlete service;
// without them it starts an embedded Authlete emulator.
//
// Environment:
//
//	AUTHLETE_BASE_URL, AUTHLETE_API_VERSION, AUTHLETE_SERVICE_APIKEY,
//	AUTHLETE_SERVICE_APISECRET, AUTHLETE_SERVICE_ACCESSTOKEN
//	                          the Authlete service (see package authlete)
//	DCR_INITIAL_ACCESS_TOKEN  if set, registration requires this bearer token
//	DCR_RATE_LIMIT            registrations per minute per client IP (default 60; 0: off)
//	DCR_CORS_ORIGINS          comma-separated allowed origins, spaces ignored (default *)
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, logger, nil); err != nil {
		logger.Error("example stopped", "error", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. ready, if not nil, is told the base URL
// once the server listens.
func run(ctx context.Context, addr string, logger *slog.Logger, ready func(baseURL string)) error {
	s, err := settingsFromEnv()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	baseURL := "http://" + ln.Addr().String()
	backend, err := newBackend(ctx, baseURL+"/register", logger)
	if err != nil {
		ln.Close()
		return err
	}
	srv := newServer(newRouter(backend, s, logger))
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	logger.Info("serving DCR endpoints", "register", baseURL+"/register",
		"initial_access_token", s.InitialAccessToken != nil, "rate_limit_per_minute", s.RateLimit)
	if ready != nil {
		ready(baseURL)
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newBackend returns the Authlete service of the AUTHLETE_* variables or,
// when none is set, an embedded emulator on 127.0.0.1 that runs until ctx
// is done. managementEndpoint is the base of the emulator's
// registration_client_uri.
func newBackend(ctx context.Context, managementEndpoint string, logger *slog.Logger) (dcr.Backend, error) {
	cfg := authlete.ConfigFromEnv()
	if cfg != (authlete.Config{}) {
		logger.Info("using Authlete", "authlete", cfg)
		return authlete.New(cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	emulator := authletetest.New(authletetest.Options{ManagementEndpoint: managementEndpoint})
	srv := newServer(emulator)
	go srv.Serve(ln)
	go func() { <-ctx.Done(); srv.Close() }()
	opts := emulator.Options()
	cfg = authlete.Config{BaseURL: "http://" + ln.Addr().String(), ServiceAPIKey: opts.ServiceID, ServiceAccessToken: opts.AccessToken}
	logger.Info("AUTHLETE_* not set: using the embedded Authlete emulator; clients live in memory until exit",
		"authlete_base_url", cfg.BaseURL)
	return authlete.New(cfg)
}

// newServer sets the timeouts that keep slow clients from holding
// connections: headers within 5 s, the whole request within 15 s.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
}
