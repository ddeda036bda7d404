package clientmatrix

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/dcrtest"
)

// startFake serves a fakeDCR with faults f, and returns it and its
// registration endpoint.
func startFake(t *testing.T, f faults) (*fakeDCR, string) {
	t.Helper()
	fake := newFakeDCR(f)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	fake.base = srv.URL
	return fake, srv.URL + "/register"
}

func run(t *testing.T, opts Options) *Report {
	t.Helper()
	r, err := Run(context.Background(), opts)
	require.NoError(t, err)
	if t.Failed() || testing.Verbose() {
		var b strings.Builder
		r.WriteTable(&b)
		t.Log("\n" + b.String())
	}
	return r
}

func clientResult(t *testing.T, r *Report, name string) ClientResult {
	t.Helper()
	for _, c := range r.Clients {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no client %s in the report", name)
	return ClientResult{}
}

func checkResult(t *testing.T, r *Report, name string) CheckResult {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in the report", name)
	return CheckResult{}
}

// assertAllPass asserts that every client but those in failing works,
// and every check but those passes ("skip:name" in failing lets check
// name be skipped).
func assertAllPass(t *testing.T, r *Report, failing ...string) {
	t.Helper()
	for _, c := range r.Clients {
		if !contains(failing, c.Name) {
			assert.False(t, c.Failed, "client %s: %s", c.Name, c.detail())
		}
	}
	for _, c := range r.Checks {
		if !contains(failing, c.Name) && !(c.Status == Skip && contains(failing, "skip:"+c.Name)) {
			assert.Equal(t, Pass, c.Status, "check %s: %s", c.Name, c.Reason)
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// TestConformantFake: the test's own server without faults passes
// everything, and is left with no client: each failure below is its
// fault's.
func TestConformantFake(t *testing.T) {
	fake, endpoint := startFake(t, faults{})
	r := run(t, Options{Endpoint: endpoint})
	assert.False(t, r.Failed())
	assertAllPass(t, r)
	assert.Len(t, r.Clients, len(Corpus()))
	assert.Len(t, r.Checks, len(checkNames))
	assert.Empty(t, r.Leftovers)
	assert.Zero(t, fake.live(), "every client deleted")
	for _, c := range r.Clients {
		if c.Outcome != NeedsCIMD {
			assert.Equal(t, Accepted, c.Outcome, c.Name)
			assert.Equal(t, []string{"read 200", "update 200", "deleted"}, c.Management, c.Name)
		}
	}
	goose := clientResult(t, r, "goose")
	assert.Equal(t, NeedsCIMD, goose.Outcome)
	assert.Contains(t, goose.Note, "not checked")
}

// TestFaults: each fault of the test's own server is reported, with its
// reason, and fails the report.
func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		f      faults
		failed []string // clients and checks that fail
		want   []string // in their lines
	}{
		{"registration answered 200", faults{status200: true}, []string{checkCreated}, []string{"answered 200, not 201"}},
		{"no Cache-Control: no-store", faults{noNoStore: true}, []string{checkNoStore}, []string{"POST /register: 201 without Cache-Control: no-store"}},
		{"a secret without client_secret_expires_at", faults{secretNoExpiry: true}, []string{checkSecretExp}, []string{"issued a client_secret without client_secret_expires_at"}},
		{"custom schemes refused", faults{refuseCustomSchemes: true}, []string{"cursor-1", "cursor-3"},
			[]string{"400 invalid_redirect_uri: The custom scheme cursor: is not allowed."}},
		{"a fragment accepted", faults{acceptFragment: true}, []string{checkFragment}, []string{"#fragment was answered 201"}},
		{"a wrong token gets 400", faults{wrongToken400: true}, []string{checkWrongToken, checkDelete}, []string{"GET with a wrong token: 400 invalid_token", "GET after DELETE: 400, not 401"}},
		{"DELETE answers 200", faults{delete200: true}, []string{checkDelete}, []string{"DELETE: 200"}},
		{"the scope widened", faults{widenScope: true}, []string{checkScope}, []string{`is beyond the request`}},
		{"errors in text/plain", faults{textErrors: true}, []string{checkBadBody, checkContentType, checkFragment},
			[]string{`answered 400 with Content-Type "text/plain", not a JSON object`, "a text/plain registration was answered 415"}},
		{"no CORS", faults{noCORS: true}, []string{"mcp-inspector"}, []string{"CORS preflight from http://localhost:6274: 204"}},
		{"public clients only", faults{publicOnly: true}, []string{"claude-ai-secret", "chatgpt-legacy", "chatgpt-connector", "copilot-studio", "skip:" + checkSecretExp},
			[]string{"400 invalid_client_metadata: Only public clients"}},
		{"a scope required", faults{requireScope: true}, []string{"claude-ai-secret", "claude-code", "cursor-1", "cursor-3", "vscode", "codex",
			"copilot-cli", "zed", "mcp-remote", "copilot-studio", "windsurf", "kiro"}, []string{"400 invalid_client_metadata: A scope is required."}},
		{"the refresh_token grant dropped", faults{noRefresh: true}, []string{"claude-ai", "claude-ai-secret", "claude-code", "chatgpt-legacy",
			"chatgpt-connector", "cursor-1", "cursor-3", "vscode", "codex", "copilot-cli", "mcp-inspector", "mcp-remote", "copilot-studio",
			"windsurf", "kiro"}, []string{`needs the refresh_token grant`, `grant_types ["authorization_code","refresh_token"] -> ["authorization_code"]`}},
		{"redirect_uris not echoed", faults{noEcho: true}, []string{"claude-ai", "claude-ai-secret", "claude-code", "chatgpt-legacy",
			"chatgpt-connector", "cursor-1", "cursor-3", "vscode", "codex", "copilot-cli", "zed", "mcp-inspector", "mcp-remote", "copilot-studio",
			"windsurf", "kiro", checkUpdate}, []string{"needs its redirect URI https://claude.ai/api/mcp/auth_callback in redirect_uris"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, endpoint := startFake(t, tc.f)
			r := run(t, Options{Endpoint: endpoint})
			assert.True(t, r.Failed())
			assertAllPass(t, r, tc.failed...)
			var table strings.Builder
			require.NoError(t, r.WriteTable(&table))
			for _, name := range tc.failed {
				if strings.HasPrefix(name, "skip:") {
					continue
				}
				if contains(checkNames, name) {
					assert.Equal(t, Fail, checkResult(t, r, name).Status, name)
				} else {
					assert.True(t, clientResult(t, r, name).Failed, name)
				}
			}
			for _, w := range tc.want {
				assert.Contains(t, table.String(), w)
			}
			assert.Contains(t, table.String(), "FAILED:")
			assert.Empty(t, r.Leftovers)
			assert.Zero(t, fake.live(), "every client deleted")
		})
	}
}

// TestRefusedDetail: a refusal keeps the status, the error and its
// description; a change names the member and both values.
func TestRefusedDetail(t *testing.T) {
	_, endpoint := startFake(t, faults{refuseCustomSchemes: true, noRefresh: true})
	r := run(t, Options{Endpoint: endpoint, Only: []string{"cursor-3", "zed", "claude-code"}})
	cursor := clientResult(t, r, "cursor-3")
	assert.Equal(t, Refused, cursor.Outcome)
	assert.Equal(t, 400, cursor.Status)
	assert.Equal(t, "invalid_redirect_uri", cursor.Error)
	assert.Equal(t, "The custom scheme cursor: is not allowed.", cursor.ErrorDescription)
	assert.Equal(t, Accepted, clientResult(t, r, "zed").Outcome, "authorization_code only: nothing to drop")
	code := clientResult(t, r, "claude-code")
	assert.Equal(t, Changed, code.Outcome)
	assert.Equal(t, []Change{{"grant_types", []any{"authorization_code", "refresh_token"}, []any{"authorization_code"}}}, code.Changes)
	assert.Equal(t, []string{"the refresh_token grant"}, code.Missing)
	assert.Len(t, r.Clients, 3)
}

// TestNoManagement: without RFC 7592 the clients are accepted, the
// management checks are skipped, and each client is listed as left.
func TestNoManagement(t *testing.T) {
	fake, endpoint := startFake(t, faults{noManagement: true})
	r := run(t, Options{Endpoint: endpoint, Only: []string{"claude-code", "zed", checkRead, checkDelete, checkCreated}})
	assert.False(t, r.Failed(), "RFC 7592 is optional")
	for _, name := range []string{checkRead, checkDelete} {
		c := checkResult(t, r, name)
		assert.Equal(t, Skip, c.Status)
		assert.Contains(t, c.Reason, "RFC 7592 not offered")
	}
	assert.Equal(t, Pass, checkResult(t, r, checkCreated).Status)
	assert.Len(t, r.Checks, 3)
	assert.Equal(t, fake.live(), len(r.Leftovers))
	assert.Len(t, r.Leftovers, 3, "two clients and the probe")
	var table strings.Builder
	r.WriteTable(&table)
	assert.Contains(t, table.String(), "Not deleted (delete them in the authorization server):")
	assert.Contains(t, table.String(), "client_id 1001: no registration_client_uri")
}

// TestRegisteredWithHandler: the library's handler on the Authlete
// emulator, behind a CORS middleware, passes everything.
func TestRegisteredWithHandler(t *testing.T) {
	srv := dcrtest.NewServer(t, dcrtest.Options{Middleware: allowCORS})
	r := run(t, Options{Endpoint: srv.RegistrationEndpoint})
	assertAllPass(t, r)
	assert.False(t, r.Failed())
	page, err := srv.Client.Admin().ListClients(context.Background(), 0, 100)
	require.NoError(t, err)
	assert.Empty(t, page.Clients, "every client deleted")
}

func allowCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestOptions(t *testing.T) {
	_, endpoint := startFake(t, faults{})
	for _, bad := range []string{"", "auth.example.com/register", "ftp://auth.example.com/register", "https://user@auth.example.com/register", "https://auth.example.com/register#x"} {
		_, err := Run(context.Background(), Options{Endpoint: bad})
		assert.Error(t, err, bad)
	}
	_, err := Run(context.Background(), Options{Endpoint: endpoint, Only: []string{"cursr"}})
	assert.ErrorContains(t, err, `"cursr" names no client and no check`)

	r := run(t, Options{Endpoint: endpoint, Only: []string{"Cursor", checkFragment}, Skip: []string{"cursor-1"}})
	require.Len(t, r.Clients, 1, "the product name selects its versions")
	assert.Equal(t, "cursor-3", r.Clients[0].Name)
	require.Len(t, r.Checks, 1)
	assert.Equal(t, checkFragment, r.Checks[0].Name)

	r = run(t, Options{Endpoint: endpoint, Skip: []string{"Cursor", checkNoStore}})
	assert.Len(t, r.Clients, len(Corpus())-2)
	assert.Len(t, r.Checks, len(checkNames)-1)
}

// TestProbeRefusedByPolicy: the checks' probe refused by a policy skips
// the checks that need it, with the server's reason; it does not fail them.
func TestProbeRefusedByPolicy(t *testing.T) {
	_, endpoint := startFake(t, faults{requireScope: true})
	r := run(t, Options{Endpoint: endpoint, Only: []string{checkCreated, checkRead, checkFragment}})
	assert.False(t, r.Failed())
	assert.Equal(t, Skip, checkResult(t, r, checkCreated).Status)
	assert.Contains(t, checkResult(t, r, checkCreated).Reason, "a public client on https://client.example.org/callback: 400 invalid_client_metadata: A scope is required.")
	assert.Equal(t, Skip, checkResult(t, r, checkRead).Status)
	assert.Equal(t, Skip, checkResult(t, r, checkFragment).Status, "refused for its scope, not its fragment")
}

// TestTableKeepsServerTextInert: a server's text cannot drive the
// operator's terminal: control and format characters (escape sequences,
// bidi overrides) are not printed.
func TestTableKeepsServerTextInert(t *testing.T) {
	_, endpoint := startFake(t, faults{refuseCustomSchemes: true, errorSuffix: "\x1b[2J\x1b]0;pwned\x07\u202egnp.exe\u0085\u009b31m\r\nFAKE ok: all passed"})
	r := run(t, Options{Endpoint: endpoint, Only: []string{"cursor-1"}})
	var table strings.Builder
	require.NoError(t, r.WriteTable(&table))
	for _, bad := range []string{"\x1b", "\x07", "\u202e", "\u0085", "\u009b", "\r"} {
		assert.NotContains(t, table.String(), bad)
	}
	assert.Contains(t, table.String(), "The custom scheme cursor: is not allowed.")
	assert.NotRegexp(t, `(?m)^FAKE`, table.String(), "no line of the server's own")
	assert.Contains(t, r.Clients[0].ErrorDescription, "\x1b[2J", "the JSON report keeps the text as it came (JSON escapes it)")
}

// TestHangingServer: a server that never answers costs one timeout, and
// every client and check says so.
func TestHangingServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- conn // held open, never answered
		}
	}()
	defer func() {
		for len(accepted) > 0 {
			(<-accepted).Close()
		}
	}()
	r := run(t, Options{Endpoint: "http://" + ln.Addr().String() + "/register", HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
	assert.True(t, r.Failed())
	first := <-accepted // the first request's connection
	defer first.Close()
	assert.Empty(t, accepted, "one connection: the first request's")
	for _, c := range r.Clients {
		if c.Outcome != NeedsCIMD {
			assert.Equal(t, Unreachable, c.Outcome, c.Name)
			assert.Contains(t, c.detail(), "POST /register got no answer", c.Name)
		}
	}
	assert.Equal(t, Fail, checkResult(t, r, checkCreated).Status)
}

// TestRateLimited: a 429 is reported as the server's limit.
func TestRateLimited(t *testing.T) {
	_, endpoint := startFake(t, faults{registrationLimit: 1})
	r := run(t, Options{Endpoint: endpoint, Only: []string{"zed", "kiro"}})
	assert.False(t, clientResult(t, r, "zed").Failed)
	kiro := clientResult(t, r, "kiro")
	assert.Equal(t, Refused, kiro.Outcome)
	assert.Equal(t, 429, kiro.Status)
	assert.Contains(t, kiro.detail(), "429 too_many_requests: Too many registrations from this address.; rate limited: the server's limit")
}

// TestDefaultScope: a scope set for a client that asks none, or an empty
// one, is a change, not a scope beyond the request (RFC 7591 §2).
func TestDefaultScope(t *testing.T) {
	_, endpoint := startFake(t, faults{defaultScope: "mcp"})
	empty := Client{Name: "empty-scope", Client: "test", Payload: "inferred", Source: []string{"the MCP TypeScript SDK sends \"scope\": \"\""},
		Request: map[string]any{"redirect_uris": []any{"http://127.0.0.1:9/cb"}, "scope": "", "token_endpoint_auth_method": "none"}}
	none := Client{Name: "no-scope", Client: "test", Payload: "inferred", Source: []string{"test"},
		Request: map[string]any{"redirect_uris": []any{"http://127.0.0.1:9/cb"}, "token_endpoint_auth_method": "none"}}
	r := run(t, Options{Endpoint: endpoint, Clients: []Client{empty, none}})
	assertAllPass(t, r, "skip:"+checkScope)
	assert.Equal(t, []Change{{"scope", "", "mcp"}}, clientResult(t, r, "empty-scope").Changes)
	assert.Equal(t, []Change{{"scope", nil, "mcp"}}, clientResult(t, r, "no-scope").Changes)
	assert.Equal(t, Skip, checkResult(t, r, checkScope).Status, "no scope requested")
}

// TestInitialAccessToken: protected registration refuses every client
// without the token, and says how to give it; with it, all pass.
func TestInitialAccessToken(t *testing.T) {
	const token = "initial-access-token-0123456789"
	_, endpoint := startFake(t, faults{initialAccessToken: token})
	r := run(t, Options{Endpoint: endpoint})
	assert.True(t, r.Failed())
	for _, c := range r.Clients {
		if c.Outcome != NeedsCIMD {
			assert.Equal(t, 401, c.Status, c.Name)
			assert.Contains(t, c.Note, "-initial-access-token", c.Name)
		}
	}
	for _, c := range r.Checks {
		assert.NotEqual(t, Fail, c.Status, "%s: %s: a 401 is no failure of the check", c.Name, c.Reason)
	}
	assert.Contains(t, checkResult(t, r, checkBadBody).Reason, "requires an initial access token")

	r = run(t, Options{Endpoint: endpoint, InitialAccessToken: token})
	assertAllPass(t, r)
	var table strings.Builder
	r.WriteTable(&table)
	assert.NotContains(t, table.String(), token)
}
