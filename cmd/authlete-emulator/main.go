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
	"strings"
	"syscall"
	"time"

	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/internal/cli"
)

// defaultManagementEndpoint is the registration endpoint of the example
// at its default address, so that the README's session works as printed.
const defaultManagementEndpoint = "http://127.0.0.1:8080/register"

const usage = `Usage: authlete-emulator [flags]

Serves an emulator of Authlete's DCR and client management API (package
authletetest) on -addr, and prints the AUTHLETE_* settings that point a
client at it. Clients live in memory until it exits. It reads no
environment variable.

Flags:
`

func main() {
	opts, addr, err := parseFlags(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "authlete-emulator:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		err = run(ctx, ln, opts, os.Stdout)
	}
	if err != nil {
		slog.Error("authlete-emulator stopped", "error", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line; -h prints the usage to out and
// returns flag.ErrHelp.
func parseFlags(args []string, out io.Writer) (authletetest.Options, string, error) {
	var opts authletetest.Options
	flags := cli.FlagSet("authlete-emulator", usage, out)
	addr := flags.String("addr", "127.0.0.1:9000", "address to listen on")
	flags.StringVar(&opts.ServiceID, "service-id", authletetest.DefaultServiceID, "numeric service ID (API v3) and API key (API v2)")
	flags.StringVar(&opts.AccessToken, "access-token", authletetest.DefaultAccessToken, "service access token (API v3)")
	flags.StringVar(&opts.APISecret, "api-secret", authletetest.DefaultAPISecret, "service API secret (API v2)")
	flags.StringVar(&opts.ManagementEndpoint, "management-endpoint", defaultManagementEndpoint,
		"the service's registrationManagementEndpoint: registration_client_uri is it + \"/\" + client ID; "+
			"the public URL of your DCR endpoint (the example's DCR_PUBLIC_URL + /register)")
	flags.IntVar(&opts.MaxClients, "max-clients", authletetest.DefaultMaxClients,
		"clients the service holds at most; registrations beyond get INTERNAL_SERVER_ERROR (negative: no limit)")
	flags.IntVar(&opts.MaxTokens, "max-tokens", authletetest.DefaultMaxTokens,
		"access tokens the service holds at most; auth/token/create beyond gets INTERNAL_SERVER_ERROR (negative: no limit)")
	flags.IntVar(&opts.MaxTokenBytes, "max-token-bytes", authletetest.DefaultMaxTokenBytes,
		"bytes of subjects and scopes the access tokens hold at most, all together; auth/token/create beyond gets INTERNAL_SERVER_ERROR (negative: no limit)")
	flags.BoolVar(&opts.BadRequestOnClientConfig, "bad-request-on-client-config", false,
		"answer BAD_REQUEST instead of UNAUTHORIZED for bad registration access tokens (unauthorizedOnClientConfigSupported off)")
	flags.BoolVar(&opts.NoDynamicRegistration, "no-dynamic-registration", false,
		"turn dynamicRegistrationSupported off: registrations get BAD_REQUEST")
	flags.BoolVar(&opts.FixedLoopbackPort, "fixed-loopback-port", false,
		"report loopbackRedirectionUriVariable off in service/get")
	flags.BoolVar(&opts.DCRScopeUsedAsRequestable, "dcr-scope-used-as-requestable", false,
		"turn dcrScopeUsedAsRequestable on: a registered scope becomes the client's requestable scopes")
	flags.BoolVar(&opts.DuplicateSoftwareIDBlocked, "duplicate-software-id-blocked", false,
		"turn dcrDuplicateSoftwareIdBlocked on: a software_id registered before is refused")
	flags.BoolVar(&opts.CIMD.Supported, "cimd", false, "report clientIdMetadataDocumentSupported on")
	flags.BoolVar(&opts.CIMD.HTTPAliasProhibited, "cimd-http-alias-prohibited", false, "report httpAliasProhibited on")
	flags.BoolVar(&opts.CIMD.HTTPPermitted, "cimd-http-permitted", false, "report cimdHttpPermitted on")
	flags.BoolVar(&opts.CIMD.QueryPermitted, "cimd-query-permitted", false, "report cimdQueryPermitted on")
	allowlist := flags.String("cimd-allowlist", "", "comma-separated cimdAllowlist; set, it turns cimdAllowlistEnabled on")
	policyFile := flags.String("cimd-metadata-policy", "", "a file with the cimdMetadataPolicy (JSON); set, it turns cimdMetadataPolicyEnabled on")
	if err := flags.Parse(args); err != nil {
		return opts, "", err
	}
	if flags.NArg() > 0 {
		return opts, "", fmt.Errorf("unexpected argument %q (see -h)", flags.Arg(0))
	}
	if *allowlist != "" {
		opts.CIMD.AllowlistEnabled = true
		for _, h := range strings.Split(*allowlist, ",") {
			if h = strings.TrimSpace(h); h != "" {
				opts.CIMD.Allowlist = append(opts.CIMD.Allowlist, h)
			}
		}
	}
	if *policyFile != "" {
		data, err := os.ReadFile(*policyFile)
		if err != nil {
			return opts, "", err
		}
		opts.CIMD.MetadataPolicyEnabled, opts.CIMD.MetadataPolicy = true, string(data)
	}
	return opts, *addr, nil
}

// run serves the emulator on ln until ctx is done, after writing to out
// how to point a client at it.
func run(ctx context.Context, ln net.Listener, opts authletetest.Options, out io.Writer) error {
	emulator := authletetest.New(opts)
	o := emulator.Options()
	fmt.Fprintf(out, "Authlete emulator listening. Point a client at it with:\n\n"+
		"  AUTHLETE_BASE_URL=http://%s\n  AUTHLETE_API_VERSION=V3\n  AUTHLETE_SERVICE_APIKEY=%s\n  AUTHLETE_SERVICE_ACCESSTOKEN=%s\n\n"+
		"or, for API v2: AUTHLETE_API_VERSION=V2 AUTHLETE_SERVICE_APISECRET=%s\n\n"+
		"registration_client_uri: %s/{client_id} (-management-endpoint; it must be your DCR endpoint's public URL)\n",
		ln.Addr(), o.ServiceID, o.AccessToken, o.APISecret, o.ManagementEndpoint)
	srv := newServer(emulator)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newServer bounds what a slow or silent caller can hold: headers within
// 5 s, a whole request within 10 s (a half-sent body is dropped then).
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
}
