package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/clientmatrix"
	"github.com/dcr-go/dcr/dcrtest"
)

func TestDoctor(t *testing.T) {
	ctx := context.Background()
	cimd := authletetest.CIMDSettings{Supported: true, HTTPAliasProhibited: true, AllowlistEnabled: true,
		Allowlist: []string{"claude.ai"}, MetadataPolicyEnabled: true}
	healthy := authletetest.NewServer(t, authletetest.Options{ManagementEndpoint: "https://auth.example.com/register", CIMD: cimd})
	var out strings.Builder
	t.Setenv("DCR_ALLOWED_SCOPES", "")
	t.Setenv("DCR_DEFAULT_SCOPE", "")
	assert.NoError(t, run(ctx, []string{"-public-url", "https://auth.example.com/"}, &out, healthy.Config()))
	assert.Equal(t, "ok: no setting of the service breaks DCR or MCP clients\n", out.String())
	out.Reset()
	assert.NoError(t, run(ctx, []string{"-public-url", "https://auth.example.com/", "-clamps-scopes"}, &out, healthy.Config()))
	assert.Contains(t, out.String(), "warning: dcrScopeUsedAsRequestable:")
	out.Reset()
	t.Setenv("DCR_ALLOWED_SCOPES", "mcp")
	assert.NoError(t, run(ctx, nil, &out, healthy.Config()))
	assert.Contains(t, out.String(), "warning: dcrScopeUsedAsRequestable:", "DCR_ALLOWED_SCOPES set: the server clamps scopes")

	out.Reset()
	assert.NoError(t, run(ctx, []string{"-h"}, &out, healthy.Config()))
	assert.Contains(t, out.String(), "AUTHLETE_SERVICE_ACCESSTOKEN")
	assert.Error(t, run(ctx, []string{"https://auth.example.com"}, &out, healthy.Config()), "a stray argument")
	assert.Error(t, run(ctx, []string{"-public"}, &out, healthy.Config()), "an unknown flag")

	warned := authletetest.NewServer(t, authletetest.Options{BadRequestOnClientConfig: true})
	out.Reset()
	assert.NoError(t, run(ctx, nil, &out, warned.Config()), "warnings alone succeed")
	assert.Contains(t, out.String(), "warning: unauthorizedOnClientConfigSupported:")

	// One metadata policy for DCR and CIMD clients.
	dir := t.TempDir()
	same, other, invalid := dir+"/same.json", dir+"/other.json", dir+"/invalid.json"
	os.WriteFile(same, []byte(`{"scope":{"subset_of":["mcp"]}}`), 0o644)
	os.WriteFile(other, []byte(`{"scope":{"subset_of":["mcp","admin"]}}`), 0o644)
	os.WriteFile(invalid, []byte(`{"scope":{"subset_of":["mcp"],"superset_of":["admin"]}}`), 0o644)
	cimd.MetadataPolicy = `{"scope":{"subset_of":["mcp"]}}`
	withPolicy := authletetest.NewServer(t, authletetest.Options{ManagementEndpoint: "https://auth.example.com/register", CIMD: cimd})
	out.Reset()
	assert.NoError(t, run(ctx, []string{"-metadata-policy", same}, &out, withPolicy.Config()))
	assert.Contains(t, out.String(), "ok: the service's CIMD metadata policy is "+same+"'s")
	out.Reset()
	assert.NoError(t, run(ctx, []string{"-metadata-policy", other}, &out, withPolicy.Config()), "a warning")
	assert.Contains(t, out.String(), `warning: cimdMetadataPolicy: The service's CIMD metadata policy is not the server's (here: the server's; there: the service's): scope subset_of: ["admin","mcp"] here, ["mcp"] there.`)
	assert.ErrorContains(t, run(ctx, []string{"-metadata-policy", invalid}, &out, withPolicy.Config()), `member "scope", operator "superset_of"`)

	broken := authletetest.NewServer(t, authletetest.Options{NoDynamicRegistration: true})
	out.Reset()
	err := run(ctx, []string{"-public-url", "https://auth.example.com"}, &out, broken.Config())
	assert.ErrorContains(t, err, "2 setting(s) break DCR")
	assert.Contains(t, out.String(), "error: dynamicRegistrationSupported:")
	assert.Contains(t, out.String(), "error: registrationManagementEndpoint:")

	broken.Inject(authletetest.Fault{Op: "service/get", Status: 403})
	assert.ErrorContains(t, run(ctx, nil, &out, broken.Config()), "HTTP 403")
}

// TestClients: -clients needs no Authlete configuration, prints a line
// per client and per check, and fails when one fails.
func TestClients(t *testing.T) {
	ctx := context.Background()
	cors := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	srv := dcrtest.NewServer(t, dcrtest.Options{Middleware: cors})
	var out strings.Builder
	require.NoError(t, run(ctx, []string{"-clients", srv.RegistrationEndpoint}, &out, authlete.Config{}), out.String())
	assert.Regexp(t, `(?m)^cursor-3 +3 +accepted +read 200, update 200, deleted$`, out.String())
	assert.Regexp(t, `(?m)^no-store +RFC 7591 §3.2.1, §3.2.2; RFC 7592 §3 +pass`, out.String())
	assert.Contains(t, out.String(), "the server's CIMD support was not checked")
	assert.Contains(t, out.String(), "ok: no client and no check failed")

	// With the Authlete service's settings, the CIMD-only client is checked.
	out.Reset()
	cfg := authlete.Config{BaseURL: srv.AuthleteURL, ServiceAPIKey: authletetest.DefaultServiceID, ServiceAccessToken: authletetest.DefaultAccessToken}
	assert.ErrorContains(t, run(ctx, []string{"-clients", srv.RegistrationEndpoint, "-only", "goose"}, &out, cfg), "a client or a check failed",
		"the emulator's service has CIMD off")
	assert.Regexp(t, `(?m)^goose .*FAIL needs-cimd +needs Client ID Metadata Document support; the server does not accept clients by metadata document: clientIdMetadataDocumentSupported:`, out.String())
	withCIMD := dcrtest.NewServer(t, dcrtest.Options{Emulator: authletetest.Options{CIMD: authletetest.CIMDSettings{Supported: true,
		HTTPAliasProhibited: true, AllowlistEnabled: true, Allowlist: []string{"goose.example"}, MetadataPolicyEnabled: true}}})
	out.Reset()
	cfg.BaseURL = withCIMD.AuthleteURL
	require.NoError(t, run(ctx, []string{"-clients", withCIMD.RegistrationEndpoint, "-only", "goose"}, &out, cfg), out.String())
	assert.Regexp(t, `(?m)^goose .* needs-cimd +the server accepts clients by metadata document$`, out.String())

	// Protected registration: refused without the token, accepted with it.
	const token = "0123456789abcdef-initial"
	verify, err := dcr.StaticTokens(token)
	require.NoError(t, err)
	protected := dcrtest.NewServer(t, dcrtest.Options{Handler: dcr.Options{InitialAccessToken: verify}})
	out.Reset()
	t.Setenv("DCR_INITIAL_ACCESS_TOKEN", "")
	err = run(ctx, []string{"-clients", protected.RegistrationEndpoint, "-only", "zed,created"}, &out, authlete.Config{})
	assert.ErrorContains(t, err, "a client or a check failed")
	assert.Regexp(t, `(?m)^zed .*FAIL refused +401 invalid_token`, out.String())
	out.Reset()
	require.NoError(t, run(ctx, []string{"-clients", protected.RegistrationEndpoint, "-only", "zed,created", "-initial-access-token", token}, &out, authlete.Config{}), out.String())
	assert.NotContains(t, out.String(), token, "the token is not printed")

	// -json for CI.
	out.Reset()
	require.NoError(t, run(ctx, []string{"-clients", srv.RegistrationEndpoint, "-only", "zed,fragment", "-json"}, &out, authlete.Config{}))
	var report clientmatrix.Report
	require.NoError(t, json.Unmarshal([]byte(out.String()), &report), out.String())
	require.Len(t, report.Clients, 1)
	assert.Equal(t, clientmatrix.Accepted, report.Clients[0].Outcome)
	require.Len(t, report.Checks, 1)
	assert.Equal(t, clientmatrix.Pass, report.Checks[0].Status)

	assert.ErrorContains(t, run(ctx, []string{"-clients", srv.RegistrationEndpoint, "-only", "curser"}, &out, authlete.Config{}), `"curser" names no client`)
	assert.Error(t, run(ctx, []string{"-clients", "auth.example.com/register"}, &out, authlete.Config{}))
}

// TestClientsJSONInert: with -json too, a server's text cannot drive the
// terminal: the C1 controls and format characters that encoding/json
// leaves as they are (U+009B CSI, U+202E) are escaped, and the report
// still reads back as it came.
func TestClientsJSONInert(t *testing.T) {
	const evil = "\x1b[2J\u009b31m\u202egnp.exe\u2028\U000e0041"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client_metadata", "error_description": evil})
	}))
	defer srv.Close()
	var out strings.Builder
	assert.Error(t, run(context.Background(), []string{"-clients", srv.URL + "/register", "-only", "zed", "-json"}, &out, authlete.Config{}))
	for _, bad := range []string{"\x1b", "\u009b", "\u202e", "\u2028", "\U000e0041"} {
		assert.NotContains(t, out.String(), bad)
	}
	var report clientmatrix.Report
	require.NoError(t, json.Unmarshal([]byte(out.String()), &report), out.String())
	require.Len(t, report.Clients, 1)
	assert.Equal(t, evil, report.Clients[0].ErrorDescription)
}

// TestClientsSIGTERM: dcr-doctor -clients, sent SIGTERM while a request
// of its hangs, registers no more, deletes every client it registered,
// lists the one the server refused to delete, and exits 1.
func TestClientsSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildDoctor(t)
	srv := &holdingServer{held: make(chan struct{})}
	ts := httptest.NewUnstartedServer(srv)
	srv.base = "http://" + ts.Listener.Addr().String()
	ts.Start()
	defer ts.Close()
	var out, stderr strings.Builder
	cmd := exec.Command(bin, "-clients", ts.URL+"/register", "-only", "cursor-3,vscode,zed")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // no AUTHLETE_*, no proxy
	require.NoError(t, cmd.Start())
	exited := wait(cmd)
	select {
	case <-srv.held:
	case err := <-exited:
		t.Fatalf("exited before the hold: %v\n%s\n%s\nserver:\n%s", err, out.String(), stderr.String(), srv)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := <-exited
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "exit: %v", err)
	assert.Equal(t, 1, exit.ExitCode())

	srv.mu.Lock()
	defer srv.mu.Unlock()
	t.Logf("stdout:\n%s\nstderr:\n%s\nserver:\n%s", out.String(), stderr.String(), strings.Join(srv.log, "\n"))
	assert.Equal(t, []string{"client-1", "client-2"}, srv.created, "no registration after the signal")
	assert.ElementsMatch(t, srv.created, srv.deleted, "a DELETE for every client created")
	assert.Contains(t, out.String(), "Not deleted")
	assert.Regexp(t, `(?m)^  client_id client-1 at .*/register/client-1: DELETE answered 500 server_error$`, out.String())
	assert.NotContains(t, out.String(), "client_id client-2")
	assert.Contains(t, out.String(), "STOPPED: ")
	assert.Contains(t, stderr.String(), "terminated: stopping")
}

// TestClientsSecondSignal: a second SIGTERM, while the deletes run,
// exits at once, before the report.
func TestClientsSecondSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildDoctor(t)
	srv := &holdingServer{held: make(chan struct{}), heldDelete: make(chan struct{})}
	ts := httptest.NewUnstartedServer(srv)
	srv.base = "http://" + ts.Listener.Addr().String()
	ts.Start()
	defer ts.Close()
	var out, stderr strings.Builder
	cmd := exec.Command(bin, "-clients", ts.URL+"/register", "-only", "cursor-3,vscode,zed")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	require.NoError(t, cmd.Start())
	exited := wait(cmd)
	for i, event := range []chan struct{}{srv.held, srv.heldDelete} {
		select {
		case <-event:
		case err := <-exited:
			t.Fatalf("exited before hold %d: %v\n%s\n%s\nserver:\n%s", i, err, out.String(), stderr.String(), srv)
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	}
	err := <-exited
	t.Logf("stdout:\n%s\nstderr:\n%s\nserver:\n%s", out.String(), stderr.String(), srv)
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "exit: %v", err)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Empty(t, out.String(), "no report: it exited at once")
	assert.Contains(t, stderr.String(), "exiting, clients may be left registered")
}

// TestClientsTimeout: -timeout bounds the whole run; a registration that
// got no answer by then is listed as a client that may exist.
func TestClientsTimeout(t *testing.T) {
	srv := &holdingServer{held: make(chan struct{}), holdPost: true}
	ts := httptest.NewUnstartedServer(srv)
	srv.base = "http://" + ts.Listener.Addr().String()
	ts.Start()
	defer ts.Close()
	var out strings.Builder
	err := run(context.Background(), []string{"-clients", ts.URL + "/register", "-only", "zed,cursor-3", "-timeout", "100ms", "-json"}, &out, authlete.Config{})
	assert.ErrorContains(t, err, "stopped before the end")
	var report struct {
		Clients   []json.RawMessage
		Leftovers []struct {
			Reason   string
			Possible bool
		}
		Stopped string
	}
	require.NoError(t, json.Unmarshal([]byte(out.String()), &report), out.String())
	assert.Contains(t, report.Stopped, "-timeout 100ms")
	assert.Len(t, report.Clients, 1, "one registration, held; none after")
	require.Len(t, report.Leftovers, 1, out.String())
	assert.True(t, report.Leftovers[0].Possible)
	assert.Equal(t, "registration of cursor-3 got no answer: a client may exist", report.Leftovers[0].Reason)
	assert.Error(t, run(context.Background(), []string{"-clients", ts.URL + "/register", "-timeout", "0s"}, &out, authlete.Config{}))
}
