// Command dcr-doctor reads an Authlete service's settings and prints each
// one that breaks Dynamic Client Registration or MCP clients, with the fix
// (package doctor):
//
//	AUTHLETE_BASE_URL=... AUTHLETE_SERVICE_APIKEY=... AUTHLETE_SERVICE_ACCESSTOKEN=... \
//	    go run ./cmd/dcr-doctor -public-url https://auth.example.com
//
// It exits with status 0 when nothing breaks DCR, 1 when a setting does
// (an error finding) or Authlete cannot be read; warnings alone exit 0.
//
// With -clients URL it needs no AUTHLETE_* variables: it registers at the
// RFC 7591 endpoint URL as each known MCP client would (Claude, ChatGPT,
// Cursor, VS Code, ...), runs the RFC 7591/7592 checks, deletes what it
// registered, and exits with status 1 when a client or a check fails
// (package clientmatrix):
//
//	go run ./cmd/dcr-doctor -clients https://auth.example.com/register
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/clientmatrix"
	"github.com/dcr-go/dcr/doctor"
	"github.com/dcr-go/dcr/internal/authleteenv"
	"github.com/dcr-go/dcr/internal/cli"
	"github.com/dcr-go/dcr/policy"
)

func main() {
	// The first SIGINT or SIGTERM stops the run: with -clients, it
	// registers no more, deletes what it registered and prints the report.
	// A second one exits at once.
	ctx, cancel := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-signals
		fmt.Fprintf(os.Stderr, "dcr-doctor: %v: stopping, deleting what was registered (again to exit at once)\n", s)
		cancel(fmt.Errorf("signal %v", s))
		s = <-signals
		fmt.Fprintf(os.Stderr, "dcr-doctor: %v: exiting, clients may be left registered\n", s)
		os.Exit(1)
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, authlete.ConfigFromEnv()); err != nil {
		fmt.Fprintln(os.Stderr, "dcr-doctor:", err)
		os.Exit(1)
	}
}

const usage = `Usage: dcr-doctor [flags]
       dcr-doctor -clients URL [-json] [-only names] [-skip names] [-initial-access-token token] [-timeout 2m]

Reads an Authlete service's settings (service/get) and prints each one that
breaks Dynamic Client Registration or MCP clients, with its fix. It changes
nothing.

With -clients URL (the registration endpoint, e.g.
https://auth.example.com/register) it registers there as each known MCP
client would, reads, updates and deletes each registration where RFC 7592
is offered, runs the RFC 7591/7592 checks, and prints one line per client
and per check. It sends requests to URL and to registration_client_uri
values on URL's origin only. It needs no AUTHLETE_* variables; with them,
the service's Client ID Metadata Document settings are checked for the
clients that use CIMD only. After -timeout, or on SIGINT or SIGTERM, it
registers no more, deletes what it registered (10 s at most), and prints
the report, with the clients it could not delete; a second signal exits
at once.

Environment:
` + authleteenv.Usage + `  DCR_PUBLIC_URL                the default of -public-url
  DCR_METADATA_POLICY           the default of -metadata-policy
  DCR_ALLOWED_SCOPES, DCR_DEFAULT_SCOPE  either set: the default of -clamps-scopes

  DCR_INITIAL_ACCESS_TOKEN      the default of -initial-access-token

Exit status: 0 when nothing breaks DCR (warnings alone included), 1 when a
setting does, when Authlete cannot be read, or the arguments are wrong.
With -clients: 1 when a client or a check fails, or the run was stopped.

Flags:
`

func run(ctx context.Context, args []string, out io.Writer, cfg authlete.Config) error {
	flags := cli.FlagSet("dcr-doctor", usage, out)
	publicURL := flags.String("public-url", os.Getenv("DCR_PUBLIC_URL"), "the URL clients reach the server at (default $DCR_PUBLIC_URL); empty skips the management endpoint check")
	mount := flags.String("path", "/register", "the path the DCR endpoints are mounted at")
	policyFile := flags.String("metadata-policy", os.Getenv("DCR_METADATA_POLICY"),
		"a metadata policy file (OpenID Federation 1.0 §6.1) to compare with the service's CIMD metadata policy (default $DCR_METADATA_POLICY)")
	clamps := flags.Bool("clamps-scopes", os.Getenv("DCR_ALLOWED_SCOPES") != "" || os.Getenv("DCR_DEFAULT_SCOPE") != "",
		"the server edits registered scopes (default: DCR_ALLOWED_SCOPES or DCR_DEFAULT_SCOPE is set)")
	clientsURL := flags.String("clients", "", "a registration endpoint URL: register there as each known client would, and run the RFC 7591/7592 checks")
	asJSON := flags.Bool("json", false, "with -clients: print the report as JSON")
	only := flags.String("only", "", "with -clients: comma-separated clients and checks to run (names from the table)")
	skip := flags.String("skip", "", "with -clients: comma-separated clients and checks to leave out")
	iat := flags.String("initial-access-token", os.Getenv("DCR_INITIAL_ACCESS_TOKEN"), "with -clients: the bearer token registrations need (default $DCR_INITIAL_ACCESS_TOKEN)")
	timeout := flags.Duration("timeout", 2*time.Minute, "with -clients: the whole run's limit; then it stops, and deletes what it registered")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errors.New("wrong arguments (see -h)")
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; flags go before, as -name=value (see -h)", flags.Arg(0))
	}
	if *clientsURL != "" {
		if *timeout <= 0 {
			return errors.New("-timeout must be positive")
		}
		ctx, cancel := context.WithTimeoutCause(ctx, *timeout, fmt.Errorf("-timeout %v", *timeout))
		defer cancel()
		return runClients(ctx, out, cfg, clientmatrix.Options{Endpoint: *clientsURL, InitialAccessToken: *iat,
			Only: cli.List(*only), Skip: cli.List(*skip)}, *asJSON)
	}
	var mp *policy.MetadataPolicy
	if *policyFile != "" {
		data, err := os.ReadFile(*policyFile)
		if err != nil {
			return err
		}
		if mp, err = policy.ParseMetadataPolicy(data); err != nil {
			return fmt.Errorf("%s: %w", *policyFile, err)
		}
	}
	client, err := authlete.New(cfg)
	if err != nil {
		return err
	}
	endpoint := ""
	if *publicURL != "" {
		endpoint = strings.TrimRight(*publicURL, "/") + "/" + strings.Trim(*mount, "/")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	svc, err := client.Admin().Service(ctx)
	if err != nil {
		return fmt.Errorf("reading the service: %w", err)
	}
	findings := doctor.Check(svc, doctor.Deployment{RegistrationEndpoint: endpoint, ClampsScopes: *clamps, MetadataPolicy: mp})
	broken := 0
	for _, f := range findings {
		fmt.Fprintln(out, f)
		if f.Severity == doctor.Error {
			broken++
		}
	}
	if len(findings) == 0 {
		fmt.Fprintln(out, "ok: no setting of the service breaks DCR or MCP clients")
	}
	if mp != nil && svc.ClientIDMetadataDocumentSupported && !slices.ContainsFunc(findings, func(f doctor.Finding) bool { return f.Setting == "cimdMetadataPolicy" }) {
		fmt.Fprintf(out, "ok: the service's CIMD metadata policy is %s's\n", *policyFile)
	}
	if broken > 0 {
		return fmt.Errorf("%d setting(s) break DCR", broken)
	}
	return nil
}

// runClients runs the client matrix. With Authlete credentials in cfg, the
// service's CIMD settings say whether CIMD-only clients can connect.
func runClients(ctx context.Context, out io.Writer, cfg authlete.Config, opts clientmatrix.Options, asJSON bool) error {
	if cfg != (authlete.Config{}) {
		client, err := authlete.New(cfg)
		if err != nil {
			return err
		}
		read, cancel := context.WithTimeout(ctx, 30*time.Second)
		svc, err := client.Admin().Service(read)
		cancel()
		if err != nil {
			return fmt.Errorf("reading the service for its CIMD settings: %w", err)
		}
		cimd := &clientmatrix.CIMD{Supported: svc.ClientIDMetadataDocumentSupported}
		for _, f := range doctor.CheckCIMD(svc) {
			cimd.Findings = append(cimd.Findings, f.Setting+": "+f.Problem)
			if f.Severity == doctor.Error {
				cimd.Supported = false
			}
		}
		opts.CIMD = cimd
	}
	report, err := clientmatrix.Run(ctx, opts)
	if err != nil {
		return err
	}
	if asJSON {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err = enc.Encode(report); err == nil {
			_, err = out.Write(inertJSON(b.Bytes()))
		}
	} else {
		err = report.WriteTable(out)
	}
	if err != nil {
		return err
	}
	if report.Stopped != "" {
		return errors.New("stopped before the end")
	}
	if report.Failed() {
		return errors.New("a client or a check failed")
	}
	return nil
}

// inertJSON escapes in the JSON data every character that is neither
// graphic nor a space nor a newline, which encoding/json leaves as it is
// (a C1 control such as U+009B CSI, a bidi override such as U+202E), so
// that a server's text cannot drive the terminal the report is printed
// on. Such characters are only in strings, where \uXXXX means the same.
func inertJSON(data []byte) []byte {
	var b bytes.Buffer
	for _, r := range string(data) {
		switch {
		case r == '\n' || r == ' ' || unicode.IsGraphic(r):
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, "\\u%04x\\u%04x", r1, r2)
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.Bytes()
}
