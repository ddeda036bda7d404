package clientmatrix

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoTokenAdmitted: a client configuration endpoint that serves a
// request without any registration access token (an optional-auth
// middleware's classic slip) fails wrong-token; one that refuses it
// passes.
func TestNoTokenAdmitted(t *testing.T) {
	_, endpoint := startFake(t, faults{noTokenAdmitted: true})
	r := run(t, Options{Endpoint: endpoint, Only: []string{"zed", checkWrongToken}})
	got := checkResult(t, r, checkWrongToken)
	assert.Equal(t, Fail, got.Status)
	assert.Contains(t, got.Reason, "without a token")
	_, endpoint = startFake(t, faults{})
	assert.Equal(t, Pass, checkResult(t, run(t, Options{Endpoint: endpoint, Only: []string{"zed", checkWrongToken}}), checkWrongToken).Status)
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
		{"a 401 without a challenge", faults{noChallenge: true}, []string{checkWrongToken}, []string{"GET with a wrong token: 401 without WWW-Authenticate: Bearer (RFC 6750 §3)"}},
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

func TestBearerChallenge(t *testing.T) {
	for v, want := range map[string]bool{
		"Bearer": true, `Bearer error="invalid_token"`: true, "bearer realm=x": true, " BEARER,": true,
		"": false, "Basic realm=x": false, "Bearerx": false, "Bear": false, `DPoP algs="ES256"`: false,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("WWW-Authenticate", v)
		}
		assert.Equal(t, want, bearerChallenge(h), "%q", v)
	}
	h := http.Header{"Www-Authenticate": {`DPoP algs="ES256"`, `Bearer error="invalid_token"`}}
	assert.True(t, bearerChallenge(h), "one of several challenges")
}
