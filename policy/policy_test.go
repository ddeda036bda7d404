package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/policy"
)

func metadata(t *testing.T, doc string) dcr.Metadata {
	t.Helper()
	var m dcr.Metadata
	require.NoError(t, json.Unmarshal([]byte(doc), &m))
	return m
}

// code returns the RFC 7591 error code of err, "" for nil.
func code(t *testing.T, err error) dcr.ErrorCode {
	t.Helper()
	if err == nil {
		return ""
	}
	var pe *dcr.Error
	require.ErrorAs(t, err, &pe)
	assert.NotEmpty(t, pe.Description)
	return pe.Code
}

func TestPolicies(t *testing.T) {
	r := httptest.NewRequest("POST", "/register", nil)
	hosts := policy.RedirectURIHosts("localhost", "127.0.0.1", "[::1]", "*.example.com")
	schemes := policy.RedirectURISchemes("https", "http", "com.example.app")
	cases := []struct {
		name   string
		policy dcr.Policy
		doc    string
		want   dcr.ErrorCode
	}{
		{"hosts: loopback and subdomain", hosts, `{"redirect_uris":["http://localhost:33418/cb","http://127.0.0.1/cb","http://[::1]:8080/cb","https://app.example.com/cb"]}`, ""},
		{"hosts: other host", hosts, `{"redirect_uris":["https://app.example.com/cb","https://evil.test/cb"]}`, dcr.InvalidRedirectURI},
		{"hosts: the apex is not a subdomain", hosts, `{"redirect_uris":["https://example.com/cb"]}`, dcr.InvalidRedirectURI},
		{"hosts: suffix trick", hosts, `{"redirect_uris":["https://evilexample.com/cb"]}`, dcr.InvalidRedirectURI},
		{"hosts: case", hosts, `{"redirect_uris":["https://APP.Example.COM/cb"]}`, ""},
		{"hosts: private-use scheme left to schemes", hosts, `{"redirect_uris":["com.example.app:/cb"]}`, ""},
		{"hosts: no redirect URIs", hosts, `{}`, ""},
		{"schemes: allowed", schemes, `{"redirect_uris":["https://a/cb","HTTP://b/cb","com.example.app:/cb"]}`, ""},
		{"schemes: other", schemes, `{"redirect_uris":["javascript:alert(1)"]}`, dcr.InvalidRedirectURI},
		{"schemes: no scheme", schemes, `{"redirect_uris":["/cb"]}`, dcr.InvalidRedirectURI},
		{"max: at the limit", policy.MaxRedirectURIs(2), `{"redirect_uris":["https://a/1","https://a/2"]}`, ""},
		{"max: over", policy.MaxRedirectURIs(2), `{"redirect_uris":["https://a/1","https://a/2","https://a/3"]}`, dcr.InvalidRedirectURI},
		{"grants: allowed", policy.GrantTypes("authorization_code", "refresh_token"), `{"grant_types":["authorization_code","refresh_token"]}`, ""},
		{"grants: default", policy.GrantTypes("authorization_code"), `{}`, ""},
		{"grants: default not allowed", policy.GrantTypes("client_credentials"), `{}`, dcr.InvalidClientMetadata},
		{"grants: other", policy.GrantTypes("authorization_code"), `{"grant_types":["authorization_code","password"]}`, dcr.InvalidClientMetadata},
		{"grants: one named", policy.GrantTypes("authorization_code"), `{"grant_types":["client_credentials"]}`, dcr.InvalidClientMetadata},
		{"grants: empty array is the default", policy.GrantTypes("authorization_code"), `{"grant_types":[]}`, ""},
		{"grants: empty array, default not allowed", policy.GrantTypes("client_credentials"), `{"grant_types":[]}`, dcr.InvalidClientMetadata},
		{"grants: null is the default", policy.GrantTypes("authorization_code"), `{"grant_types":null}`, ""},
		{"hosts: http URI checked too", hosts, `{"redirect_uris":["http://evil.test/cb"]}`, dcr.InvalidRedirectURI},
		{"hosts: private-use scheme then a forbidden host", hosts, `{"redirect_uris":["com.example.app:/cb","https://evil.test/cb"]}`, dcr.InvalidRedirectURI},
		{"schemes: data", schemes, `{"redirect_uris":["data:text/html,x"]}`, dcr.InvalidRedirectURI},
		{"max: null", policy.MaxRedirectURIs(0), `{"redirect_uris":null}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, code(t, tc.policy(r, metadata(t, tc.doc))))
		})
	}
}

// TestPoliciesRejectWronglyTypedMembers protects the security policies
// from failing open: a member they check that is present but not the type
// RFC 7591 gives it is rejected, not skipped.
func TestPoliciesRejectWronglyTypedMembers(t *testing.T) {
	r := httptest.NewRequest("POST", "/register", nil)
	redirectPolicies := map[string]dcr.Policy{
		"schemes": policy.RedirectURISchemes("https"),
		"hosts":   policy.RedirectURIHosts("app.example.com"),
		"max":     policy.MaxRedirectURIs(1),
		"native":  policy.NativeLoopback(),
	}
	for _, doc := range []string{
		`{"redirect_uris":"javascript:alert(1)"}`,
		`{"redirect_uris":["https://app.example.com/cb",null]}`,
		`{"redirect_uris":["https://app.example.com/cb",42]}`,
		`{"redirect_uris":[["https://evil.test/cb"]]}`,
		`{"redirect_uris":{"0":"https://evil.test/cb"}}`,
		`{"redirect_uris":true}`,
	} {
		for name, p := range redirectPolicies {
			assert.Equal(t, dcr.InvalidClientMetadata, code(t, p(r, metadata(t, doc))), "%s: %s", name, doc)
		}
	}
	grants := policy.GrantTypes("authorization_code")
	for _, doc := range []string{`{"grant_types":"authorization_code"}`, `{"grant_types":"client_credentials"}`,
		`{"grant_types":["authorization_code",7]}`, `{"grant_types":{}}`} {
		assert.Equal(t, dcr.InvalidClientMetadata, code(t, grants(r, metadata(t, doc))), doc)
	}
}

func TestSoftwareStatement(t *testing.T) {
	r := httptest.NewRequest("POST", "/register", nil)
	verify := func(ctx context.Context, statement string, m dcr.Metadata) error {
		switch statement {
		case "good.jwt.sig":
			m["software_id"] = "from-statement" // claims take precedence
			return nil
		case "unapproved.jwt.sig":
			return dcr.Reject(dcr.UnapprovedSoftwareStatement, "Not on the list.")
		}
		return errors.New("bad signature")
	}
	optional, required := policy.SoftwareStatement(false, verify), policy.SoftwareStatement(true, verify)
	cases := []struct {
		name   string
		policy dcr.Policy
		doc    string
		want   dcr.ErrorCode
	}{
		{"good", optional, `{"software_statement":"good.jwt.sig","software_id":"claimed"}`, ""},
		{"bad signature", optional, `{"software_statement":"forged.jwt.sig"}`, dcr.InvalidSoftwareStatement},
		{"unapproved", optional, `{"software_statement":"unapproved.jwt.sig"}`, dcr.UnapprovedSoftwareStatement},
		{"absent, optional", optional, `{}`, ""},
		{"absent, required", required, `{}`, dcr.InvalidSoftwareStatement},
		{"empty", optional, `{"software_statement":""}`, dcr.InvalidSoftwareStatement},
		{"not a string", optional, `{"software_statement":42}`, dcr.InvalidSoftwareStatement},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := metadata(t, tc.doc)
			assert.Equal(t, tc.want, code(t, tc.policy(r, m)))
			if tc.name == "good" {
				assert.Equal(t, "from-statement", m["software_id"])
			}
		})
	}
}

// TestSoftwareStatementUnavailable: a verify function whose issuer is
// down fails the request as unavailable, not as a bad statement.
func TestSoftwareStatementUnavailable(t *testing.T) {
	down := dcr.Unavailable(5*time.Second, errors.New("JWKS: HTTP 503"))
	p := policy.SoftwareStatement(true, func(context.Context, string, dcr.Metadata) error { return fmt.Errorf("verify: %w", down) })
	err := p(httptest.NewRequest("POST", "/register", nil), dcr.Metadata{"software_statement": "a.b.c"})
	var ue *dcr.UnavailableError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, 5*time.Second, ue.RetryAfter)
	var pe *dcr.Error
	assert.False(t, errors.As(err, &pe), "not a refusal: %v", err)
}

func TestNativeLoopback(t *testing.T) {
	r := httptest.NewRequest("POST", "/register", nil)
	cases := []struct {
		name, doc, want string // want: the application_type after the policy, "" for none
	}{
		{"localhost", `{"redirect_uris":["http://localhost:33418/callback"]}`, "native"},
		{"127.0.0.1 and [::1]", `{"redirect_uris":["http://127.0.0.1:6274/cb","http://[::1]/cb"]}`, "native"},
		{"private-use schemes", `{"redirect_uris":["com.example.app:/cb","io.cursor.mcp://oauth/callback"]}`, "native"},
		// RFC 8252 §7.1: a private-use scheme is a reverse domain name;
		// other schemes do not make a client native.
		{"ftp", `{"redirect_uris":["ftp://evil.example/cb"]}`, ""},
		{"wss", `{"redirect_uris":["wss://evil.example/cb"]}`, ""},
		{"mailto", `{"redirect_uris":["mailto:a@evil.example"]}`, ""},
		{"urn", `{"redirect_uris":["urn:ietf:wg:oauth:2.0:oob"]}`, ""},
		{"scheme without a dot", `{"redirect_uris":["cursor://anysphere.cursor-mcp/oauth/callback"]}`, ""},
		{"forbidden schemes", `{"redirect_uris":["data:text/html,x","file:///etc/passwd","vbscript:x","about:blank","blob:https://a/1"]}`, ""},
		{"relative", `{"redirect_uris":["/callback"]}`, ""},
		{"loopback and ftp", `{"redirect_uris":["http://localhost/cb","ftp://evil.example/cb"]}`, ""},
		{"loopback and https", `{"redirect_uris":["http://localhost/cb","https://app.example.com/cb"]}`, ""},
		{"https only", `{"redirect_uris":["https://claude.ai/api/mcp/auth_callback"]}`, ""},
		{"http on a LAN host", `{"redirect_uris":["http://192.168.1.5/cb"]}`, ""},
		{"javascript", `{"redirect_uris":["javascript:alert(1)"]}`, ""},
		{"no redirect URIs", `{}`, ""},
		{"explicit web kept", `{"application_type":"web","redirect_uris":["http://localhost/cb"]}`, "web"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := metadata(t, tc.doc)
			require.NoError(t, policy.NativeLoopback()(r, m))
			got, _ := m.String("application_type")
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestNativeLoopbackEndToEnd registers a Claude Code-like client through the
// handler and the emulator: Authlete gets, and echoes, application_type native.
func TestNativeLoopbackEndToEnd(t *testing.T) {
	emulator := authletetest.NewServer(t, authletetest.Options{})
	mux := http.NewServeMux()
	dcr.Mount(mux, "/register", dcr.New(emulator.Client(t), dcr.Options{
		Logger:   slog.New(slog.DiscardHandler),
		Policies: []dcr.Policy{policy.NativeLoopback(), policy.MaxRedirectURIs(3)},
	}))
	r := httptest.NewRequest("POST", "/register", strings.NewReader(
		`{"client_name":"Claude Code","redirect_uris":["http://localhost:54545/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, r)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	var got map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, "native", got["application_type"])
}

// benchRegistrations are the registrations the policies' benchmarks
// check: BenchmarkEndToEndCPU's, and those of MCP clients.
var benchRegistrations = []struct{ name, doc string }{
	{"bench", `{"client_name":"Bench","redirect_uris":["http://127.0.0.1:33418/cb"],"token_endpoint_auth_method":"none"}`},
	{"claude-code", `{"client_name":"Claude Code (my-server)","redirect_uris":["http://localhost:53012/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`},
	{"chatgpt", `{"client_name":"ChatGPT","redirect_uris":["https://chatgpt.com/connector_platform_oauth_redirect"],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"client_secret_post","logo_uri":"https://chatgpt.com/logo.png"}`},
	{"vscode", `{"client_name":"Visual Studio Code","redirect_uris":["http://127.0.0.1:33418/","https://vscode.dev/redirect"],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none","client_uri":"https://vscode.dev/"}`},
}

// benchPolicy measures p on each of benchRegistrations, which it must
// accept; the members p adds are taken out again after each call.
func benchPolicy(b *testing.B, p dcr.Policy) {
	r := httptest.NewRequest("POST", "/register", nil)
	for _, reg := range benchRegistrations {
		b.Run(reg.name, func(b *testing.B) {
			var m dcr.Metadata
			require.NoError(b, json.Unmarshal([]byte(reg.doc), &m))
			b.ReportAllocs()
			for b.Loop() {
				if err := p(r, m); err != nil {
					b.Fatal(err)
				}
				delete(m, "application_type")
			}
		})
	}
}

// BenchmarkNativeLoopback is NativeLoopback's share of a registration.
//
//	go test -run X -bench NativeLoopback -benchmem
func BenchmarkNativeLoopback(b *testing.B) { benchPolicy(b, policy.NativeLoopback()) }
