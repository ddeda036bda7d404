// Command example is an authorization server's DCR endpoints on a chi
// router: POST /register (RFC 7591) and GET, PUT, DELETE
// /register/{client_id} (RFC 7592), backed by the Authlete service that
// the AUTHLETE_* environment variables name.
//
//	go run ./example -addr 127.0.0.1:8080
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, logger); err != nil {
		logger.Error("example stopped", "error", err)
		os.Exit(1)
	}
}

func run(addr string, logger *slog.Logger) error {
	client, err := authlete.New(authlete.ConfigFromEnv())
	if err != nil {
		return err
	}
	srv := newServer(addr, newRouter(client, logger))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	logger.Info("serving DCR endpoints", "register", "http://"+addr+"/register")
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newServer sets the timeouts that keep slow clients from holding
// connections: headers in 5 s, the whole request in 15 s.
func newServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
}

// newRouter mounts the DCR endpoints on a chi router.
func newRouter(backend dcr.Backend, logger *slog.Logger) http.Handler {
	r := chi.NewRouter()
	dcr.Mount(r, "/register", dcr.New(backend, dcr.Options{Logger: logger}))
	return r
}
