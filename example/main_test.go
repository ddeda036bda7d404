package main

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authletetest"
)

func TestCurlSessionOnEmbeddedEmulator(t *testing.T) {
	base, logs := startExample(t, nil)
	const metadata = `{"client_name":"MCP Inspector","redirect_uris":["http://localhost:6274/oauth/callback"],"token_endpoint_auth_method":"none"}`

	reg := send(t, "POST", base+"/register", "", metadata, "Origin", "http://localhost:6274")
	require.Equal(t, 201, reg.status, reg.raw)
	assert.Equal(t, "*", reg.header.Get("Access-Control-Allow-Origin"))
	uri, token := reg.body["registration_client_uri"].(string), reg.body["registration_access_token"].(string)
	id := reg.body["client_id"].(string)
	assert.Equal(t, base+"/register/"+id, uri, "the emulator's management base is the example's /register")
	assert.Equal(t, "native", reg.body["application_type"], "policy.NativeLoopback: a loopback redirect URI makes a native client")

	read := send(t, "GET", uri, token, "")
	assert.Equal(t, 200, read.status)
	assert.JSONEq(t, reg.raw, read.raw)

	upd := send(t, "PUT", uri, token, `{"client_id":"`+id+`","client_name":"renamed","redirect_uris":["http://localhost:6274/oauth/callback"],"token_endpoint_auth_method":"none"}`)
	assert.Equal(t, 200, upd.status, upd.raw)
	assert.Equal(t, "renamed", upd.body["client_name"])

	// A client that wrongly sends its token in the query string.
	leak := send(t, "GET", uri+"?access_token="+token, "", "")
	assert.Equal(t, 401, leak.status)

	del := send(t, "DELETE", uri, token, "")
	assert.Equal(t, 204, del.status)

	again := send(t, "GET", uri, token, "")
	assert.Equal(t, 401, again.status)
	assert.Equal(t, `Bearer error="invalid_token"`, again.header.Get("WWW-Authenticate"))

	metrics := send(t, "GET", base+"/metrics", "", "")
	assert.Equal(t, 200, metrics.status)
	for _, line := range []string{
		`dcr_requests_total{error="",op="register",status="201"} 1`,
		`dcr_requests_total{error="",op="get",status="200"} 1`,
		`dcr_requests_total{error="invalid_token",op="get",status="401"} 2`,
		`dcr_requests_total{error="",op="update",status="200"} 1`,
		`dcr_requests_total{error="",op="delete",status="204"} 1`,
		`dcr_request_duration_seconds_count{op="get"} 3`,
		`dcr_request_duration_seconds_bucket{op="get",le="+Inf"} 3`,
		`dcr_request_duration_seconds_count{op="register"} 1`,
	} {
		assert.Contains(t, metrics.raw, line)
	}

	log := logs.String()
	assert.Contains(t, log, "embedded Authlete emulator")
	assert.NotContains(t, log, `"level":"WARN"`, "the embedded emulator is a service the doctor has nothing to say about")
	assert.Contains(t, log, `"status":204`)
	assert.Contains(t, log, `"query":"access_token"`)
	assert.NotContains(t, log, token, "no token in the log")
	assert.NotContains(t, log, "emulator-service-access-token", "no service credential in the log")
}

func TestInitialAccessToken(t *testing.T) {
	base, logs := startExample(t, map[string]string{"DCR_INITIAL_ACCESS_TOKEN": "iat-s3cret-0123456789"})
	missing := send(t, "POST", base+"/register", "", `{}`)
	assert.Equal(t, 401, missing.status)
	assert.Equal(t, "Bearer", missing.header.Get("WWW-Authenticate"))
	assert.Equal(t, "invalid_token", missing.body["error"])

	wrong := send(t, "POST", base+"/register", "guess", `{}`)
	assert.Equal(t, 401, wrong.status)
	assert.Equal(t, `Bearer error="invalid_token"`, wrong.header.Get("WWW-Authenticate"))

	ok := send(t, "POST", base+"/register", "iat-s3cret-0123456789", `{"redirect_uris":["https://app.example/cb"]}`)
	require.Equal(t, 201, ok.status, ok.raw)

	// Client configuration uses the registration access token, not the initial one.
	read := send(t, "GET", ok.body["registration_client_uri"].(string), ok.body["registration_access_token"].(string), "")
	assert.Equal(t, 200, read.status)
	assert.NotContains(t, logs.String(), "iat-s3cret-0123456789")
}

func TestRateLimit(t *testing.T) {
	base, _ := startExample(t, map[string]string{"DCR_RATE_LIMIT": "2"})
	var last response
	for i := 0; i < 3; i++ {
		last = send(t, "POST", base+"/register", "", `{}`)
	}
	assert.Equal(t, 429, last.status)
	assert.Equal(t, "temporarily_unavailable", last.body["error"])
	assert.NotEmpty(t, last.header.Get("Retry-After"))
	assert.Equal(t, "no-store", last.header.Get("Cache-Control"))

	// Reads are not registrations: not limited.
	for i := 0; i < 3; i++ {
		assert.Equal(t, 401, send(t, "GET", base+"/register/1", "t", "").status)
	}
}

func TestRateLimitOff(t *testing.T) {
	base, _ := startExample(t, map[string]string{"DCR_RATE_LIMIT": "0"})
	for i := 0; i < 70; i++ {
		require.Equal(t, 201, send(t, "POST", base+"/register", "", `{}`).status)
	}
}

func TestCORSPreflight(t *testing.T) {
	base, _ := startExample(t, nil)
	pre := send(t, "OPTIONS", base+"/register", "", "", "Origin", "http://localhost:6274",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	assert.Equal(t, 204, pre.status)
	assert.Equal(t, "*", pre.header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, pre.header.Get("Access-Control-Allow-Methods"), "POST")
	assert.Contains(t, strings.ToLower(pre.header.Get("Access-Control-Allow-Headers")), "authorization")
}

// TestScopesAndReservedNames: the MCP-era policies, through the example.
func TestScopesAndReservedNames(t *testing.T) {
	base, _ := startExample(t, map[string]string{"DCR_DEFAULT_SCOPE": "mcp", "DCR_ALLOWED_SCOPES": "mcp offline_access"})
	for _, tc := range []struct{ body, want string }{
		{`{"redirect_uris":["https://app.example/cb"]}`, "mcp"},
		{`{"redirect_uris":["https://app.example/cb"],"scope":"mcp admin"}`, "mcp"},
		{`{"redirect_uris":["https://app.example/cb"],"scope":"offline_access mcp"}`, "offline_access mcp"},
	} {
		reg := send(t, "POST", base+"/register", "", tc.body)
		require.Equal(t, 201, reg.status, reg.raw)
		assert.Equal(t, tc.want, reg.body["scope"], tc.body)
		read := send(t, "GET", reg.body["registration_client_uri"].(string), reg.body["registration_access_token"].(string), "")
		assert.Equal(t, tc.want, read.body["scope"], "registered so")
	}
	for _, name := range []string{"Claude", "\u0421laude", "Cla\u200bude", "ChatGPT Helper"} {
		reg := send(t, "POST", base+"/register", "", `{"client_name":"`+name+`","redirect_uris":["https://evil.example/cb"]}`)
		assert.Equal(t, 400, reg.status, name)
		assert.Equal(t, "invalid_client_metadata", reg.body["error"], name)
	}
	ok := send(t, "POST", base+"/register", "", `{"client_name":"Claude","redirect_uris":["https://claude.ai/api/mcp/auth_callback"]}`)
	assert.Equal(t, 201, ok.status, ok.raw)
	code := send(t, "POST", base+"/register", "", `{"client_name":"Claude Code","redirect_uris":["http://localhost:54545/callback"]}`)
	assert.Equal(t, 201, code.status, code.raw)
}

// TestAllowedScopesWithoutDefault: with DCR_ALLOWED_SCOPES and no
// DCR_DEFAULT_SCOPE, "admin" registers with the allowed scopes, not with
// no scope (which Authlete may read as any scope).
func TestAllowedScopesWithoutDefault(t *testing.T) {
	base, _ := startExample(t, map[string]string{"DCR_ALLOWED_SCOPES": "mcp offline_access"})
	for _, body := range []string{`{"redirect_uris":["https://app.example/cb"],"scope":"admin"}`, `{"redirect_uris":["https://app.example/cb"]}`} {
		reg := send(t, "POST", base+"/register", "", body)
		require.Equal(t, 201, reg.status, reg.raw)
		assert.Equal(t, "mcp offline_access", reg.body["scope"], body)
	}
	reg := send(t, "POST", base+"/register", "", `{"redirect_uris":["https://app.example/cb"],"scope":"admin mcp"}`)
	require.Equal(t, 201, reg.status, reg.raw)
	assert.Equal(t, "mcp", reg.body["scope"])
}

// TestPolicyChecksAfterMetadataPolicy: the name check runs on what the
// metadata policy leaves, so a policy that defaults to the device flow
// does not let "Claude" register on a loopback redirect URI (probe 21).
func TestPolicyChecksAfterMetadataPolicy(t *testing.T) {
	file := t.TempDir() + "/policy.json"
	require.NoError(t, os.WriteFile(file, []byte(`{"grant_types":{"default":["urn:ietf:params:oauth:grant-type:device_code"]}}`), 0o644))
	base, _ := startExample(t, map[string]string{"DCR_METADATA_POLICY": file})
	reg := send(t, "POST", base+"/register", "", `{"client_name":"Claude","redirect_uris":["http://127.0.0.1:4000/cb"]}`)
	assert.Equal(t, 400, reg.status, reg.raw)
	assert.Equal(t, "invalid_client_metadata", reg.body["error"])
	reg = send(t, "POST", base+"/register", "", `{"client_name":"Claude","redirect_uris":["http://127.0.0.1:4000/cb"],"grant_types":["authorization_code"]}`)
	assert.Equal(t, 201, reg.status, reg.raw)
}

// TestQueryValuesNeverLogged protects tokens a client puts in the URL:
// the log has the parameter names only.
func TestQueryValuesNeverLogged(t *testing.T) {
	cases := map[string]string{
		"":                                "",
		"access_token=abc":                "access_token",
		"a=1&Registration_Access_Token=x": "Registration_Access_Token,a",
		"jwt=SECRET&pwd=SECRET&sig=SECRET&rat=SECRET&auth=SECRET&bearer=SECRET&credential=SECRET&passwd=SECRET&authorization=SECRET": "auth,authorization,bearer,credential,jwt,passwd,pwd,rat,sig",
		"page=1&page=2": "page",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.SECRET": "?",
		"x=%zz&access_token=abc":                      "access_token,x",
		"%zz=1":                                       "?",
		"SECRET":                                      "?",
		"a=1&SECRET":                                  "?,a",
	}
	for in, want := range cases {
		assert.Equal(t, want, queryNames(in), in)
	}

	base, logs := startExample(t, nil)
	send(t, "GET", base+"/register/1?jwt=SECRET1&access_token=SECRET2", "", "")
	send(t, "POST", base+"/register?SECRET3", "", `{}`)
	assert.Contains(t, logs.String(), `"query":"access_token,jwt"`)
	assert.NotContains(t, logs.String(), "SECRET")
}

// TestPathTokenNeverLogged protects the token of a client that puts it in
// the path too (a client ID and a token confused, or a token sent to the
// wrong URL): the request's line holds the path without it.
func TestPathTokenNeverLogged(t *testing.T) {
	const token = "PathToken-qs4Tu5TV7qqDYT93bFs6ISyh"
	base, logs := startExample(t, nil)
	for _, method := range []string{"GET", "PUT", "DELETE", "POST"} {
		send(t, method, base+"/register/"+token, token, `{"redirect_uris":["https://app.example/cb"]}`)
		send(t, method, base+"/x"+token, token, "")
		send(t, method, base+"/register/"+token, "", "", "Authorization", "Basic "+token)
	}
	assert.Contains(t, logs.String(), `"path":"/register/REDACTED"`)
	assert.Contains(t, logs.String(), `"path":"/xREDACTED"`)
	assert.NotContains(t, logs.String(), token)
}

// TestPathTokenWithoutHeaderNeverLogged protects the registration access
// token of a careless client that sends it as the client ID without an
// Authorization header, inside Basic credentials, or with another token
// while Authlete fails (a probe of issue 25): neither the request's line
// (path, client_id) nor the handler's own failure line may hold it.
func TestPathTokenWithoutHeaderNeverLogged(t *testing.T) {
	emulator := authletetest.NewServer(t, authletetest.Options{})
	base, p := startExampleBinary(t, emulatorEnv(emulator.URL, authletetest.DefaultAccessToken), "")
	reg := send(t, "POST", base+"/register", "", `{"redirect_uris":["https://app.example/cb"]}`)
	require.Equal(t, 201, reg.status, reg.raw)
	id, token := reg.body["client_id"].(string), reg.body["registration_access_token"].(string)

	for _, method := range []string{"GET", "PUT", "DELETE", "POST"} {
		send(t, method, base+"/register/"+token, "", `{"redirect_uris":["https://app.example/cb"]}`)
		send(t, method, base+"/"+token, "", "")
	}
	basic := base64.StdEncoding.EncodeToString([]byte(id + ":" + token))
	send(t, "GET", base+"/register/"+token, "", "", "Authorization", "Basic "+basic)
	emulator.Inject(authletetest.Fault{Op: "get", Status: 500, Times: 1})
	failed := send(t, "GET", base+"/register/"+token, "another-token-of-the-client", "")
	assert.Equal(t, 500, failed.status, failed.raw)

	assert.Contains(t, p.out.String(), "path=/register/REDACTED")
	assert.NotContains(t, p.out.String(), token)
}

// TestStaticTokenNeverLogged protects DCR_INITIAL_ACCESS_TOKEN sent in
// the path without an Authorization header (a probe of issue 25): a token
// of lower-case words, or of 16 to 19 characters, does not look like one
// to tokenshape, but the example knows it.
func TestStaticTokenNeverLogged(t *testing.T) {
	for _, token := range []string{"correct-horse-battery-staple", "0123456789abcdef"} {
		base, logs := startExample(t, map[string]string{"DCR_INITIAL_ACCESS_TOKEN": token})
		send(t, "POST", base+"/register/"+token, "", `{}`)
		send(t, "GET", base+"/"+token, "", "")
		send(t, "GET", base+"/register/x"+token, "", "")
		reg := send(t, "POST", base+"/register", token, `{"redirect_uris":["https://app.example/cb"]}`)
		assert.Equal(t, 201, reg.status, reg.raw)
		assert.NotContains(t, logs.String(), token)
	}
}

func TestIsLoopbackURL(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://127.0.0.1:9000": true, "http://localhost": true, "http://LOCALHOST:1": true, "http://[::1]:80": true,
		"http://127.8.9.10": true, "http://api.example": false, "http://10.0.0.1": false, "https://us.authlete.com": false,
		"http://localhost.evil.example": false, "://": false, "http://localhoſt": false,
	} {
		assert.Equal(t, want, isLoopbackURL(raw), raw)
	}
}
