// Command authlete-emulator serves the authletetest emulator of Authlete's
// DCR API, so that applications in any language, and Authlete's own SDKs,
// can be run and tested without an Authlete account:
//
//	go run ./cmd/authlete-emulator -addr 127.0.0.1:9000
//
// It prints the AUTHLETE_* settings that point a client at it. Clients
// live in memory until it exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dcr-go/dcr/authletetest"
)

func main() {
	var opts authletetest.Options
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	flag.StringVar(&opts.ServiceID, "service-id", authletetest.DefaultServiceID, "numeric service ID (API v3) and API key (API v2)")
	flag.StringVar(&opts.AccessToken, "access-token", authletetest.DefaultAccessToken, "service access token (API v3)")
	flag.StringVar(&opts.APISecret, "api-secret", authletetest.DefaultAPISecret, "service API secret (API v2)")
	flag.StringVar(&opts.ManagementEndpoint, "management-endpoint", authletetest.DefaultManagementEndpoint,
		"registration management endpoint: registration_client_uri is it + \"/\" + client ID")
	flag.BoolVar(&opts.BadRequestOnClientConfig, "bad-request-on-client-config", false,
		"answer BAD_REQUEST instead of UNAUTHORIZED for bad registration access tokens (unauthorizedOnClientConfigSupported off)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err == nil {
		err = run(ctx, ln, opts, os.Stdout)
	}
	if err != nil {
		slog.Error("authlete-emulator stopped", "error", err)
		os.Exit(1)
	}
}

// run serves the emulator on ln until ctx is done, after writing to out
// how to point a client at it.
func run(ctx context.Context, ln net.Listener, opts authletetest.Options, out io.Writer) error {
	emulator := authletetest.New(opts)
	o := emulator.Options()
	fmt.Fprintf(out, "Authlete emulator listening. Point a client at it with:\n\n"+
		"  AUTHLETE_BASE_URL=http://%s\n  AUTHLETE_API_VERSION=V3\n  AUTHLETE_SERVICE_APIKEY=%s\n  AUTHLETE_SERVICE_ACCESSTOKEN=%s\n\n"+
		"or, for API v2: AUTHLETE_API_VERSION=V2 AUTHLETE_SERVICE_APISECRET=%s\n",
		ln.Addr(), o.ServiceID, o.AccessToken, o.APISecret)
	srv := &http.Server{Handler: emulator, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 90 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
