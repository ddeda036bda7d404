package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startExample runs the example on 127.0.0.1 with env set and no AUTHLETE_*
// settings, and returns its base URL and its log.
func startExample(t *testing.T, env map[string]string) (string, *syncBuffer) {
	t.Helper()
	for _, k := range []string{"AUTHLETE_BASE_URL", "AUTHLETE_API_VERSION", "AUTHLETE_SERVICE_APIKEY",
		"AUTHLETE_SERVICE_APISECRET", "AUTHLETE_SERVICE_ACCESSTOKEN", "DCR_INITIAL_ACCESS_TOKEN", "DCR_RATE_LIMIT",
		"DCR_MANAGEMENT_RATE_LIMIT", "DCR_CORS_ORIGINS", "DCR_PUBLIC_URL", "DCR_REDIS_URL", "DCR_DEFAULT_SCOPE", "DCR_ALLOWED_SCOPES",
		"DCR_TRUSTED_PROXIES", "DCR_METRICS_ADDR", "DCR_EMBEDDED_EMULATOR", "DCR_INFO_URIS_ON_REDIRECT_HOST", "DCR_METADATA_POLICY", "DCR_IAT_STORE",
		"DCR_SOFTWARE_STATEMENT_ISSUERS", "DCR_SOFTWARE_STATEMENT_REQUIRED", "DCR_RATE_LIMIT_NETWORKS", "DCR_RATE_LIMIT_GLOBAL"} {
		t.Setenv(k, env[k])
	}
	// No drain period unless the test asks for one: its cleanup stops
	// the example at once.
	t.Setenv("DCR_SHUTDOWN_DRAIN", cmp.Or(env["DCR_SHUTDOWN_DRAIN"], "0"))
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, "127.0.0.1:0", slog.New(slog.NewJSONHandler(logs, nil)), func(u string) { ready <- u })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Error("the example did not stop")
		}
	})
	select {
	case u := <-ready:
		return u, logs
	case err := <-done:
		t.Fatalf("the example did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the example did not start in time")
	}
	return "", nil
}

// printFailures logs the example's log lines of level WARN and above, and
// the first lines of the rest, so that a failed test shows its cause.
func printFailures(t *testing.T, logs *syncBuffer) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	shown := 0
	for _, line := range lines {
		if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
			if shown++; shown <= 50 {
				t.Log("example: " + line)
			}
		}
	}
	t.Logf("example: %d log lines, %d at WARN or above", len(lines), shown)
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func send(t *testing.T, method, url, token, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(data)}
	if len(data) > 0 {
		json.Unmarshal(data, &r.body)
	}
	return r
}

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

// TestCORSOriginsWithSpaces protects the second and later origins of a
// list written with spaces after the commas.
func TestCORSOriginsWithSpaces(t *testing.T) {
	base, _ := startExample(t, map[string]string{"DCR_CORS_ORIGINS": "https://a.example, https://b.example ,https://c.example"})
	for _, origin := range []string{"https://a.example", "https://b.example", "https://c.example"} {
		reg := send(t, "POST", base+"/register", "", `{}`, "Origin", origin)
		assert.Equal(t, origin, reg.header.Get("Access-Control-Allow-Origin"), origin)
	}
	other := send(t, "POST", base+"/register", "", `{}`, "Origin", "https://evil.example")
	assert.Empty(t, other.header.Get("Access-Control-Allow-Origin"))
}

// TestUnpresentableInitialAccessTokenStopsStartup protects operators from
// an initial access token that no client could send: the example refuses
// to start, naming the variable and the rule, without printing the value.
func TestUnpresentableInitialAccessTokenStopsStartup(t *testing.T) {
	for _, token := range []string{"s3cr3t!", "s3cr3t-from-a-file\n", strings.Repeat("x", 8<<10+1)} {
		t.Setenv("DCR_INITIAL_ACCESS_TOKEN", token)
		err := run(context.Background(), "127.0.0.1:0", slog.New(slog.DiscardHandler), nil)
		require.Error(t, err, "%q", token)
		assert.Contains(t, err.Error(), "DCR_INITIAL_ACCESS_TOKEN")
		assert.Contains(t, err.Error(), "RFC 6750 b64token")
		assert.NotContains(t, err.Error(), "s3cr3t")
	}
}

// TestShortInitialAccessTokenStopsStartup: a token an attacker could
// guess is refused, with the minimum, without printing it.
func TestShortInitialAccessTokenStopsStartup(t *testing.T) {
	for token, ok := range map[string]bool{"Z": false, "s3cr3t-01234567": false, "s3cr3t-012345678": true} {
		t.Setenv("DCR_INITIAL_ACCESS_TOKEN", token)
		_, err := settingsFromEnv()
		if ok {
			assert.NoError(t, err, token)
			continue
		}
		require.Error(t, err, token)
		assert.Contains(t, err.Error(), "at least 16")
		assert.NotContains(t, err.Error(), token)
	}
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

func TestBadSettings(t *testing.T) {
	t.Setenv("DCR_RATE_LIMIT", "lots")
	err := run(context.Background(), "127.0.0.1:0", slog.New(slog.DiscardHandler), nil)
	assert.ErrorContains(t, err, "DCR_RATE_LIMIT")

	t.Setenv("DCR_RATE_LIMIT", "")
	t.Setenv("DCR_DEFAULT_SCOPE", "admin")
	t.Setenv("DCR_ALLOWED_SCOPES", "mcp offline_access")
	err = run(context.Background(), "127.0.0.1:0", slog.New(slog.DiscardHandler), nil)
	assert.ErrorContains(t, err, `DCR_DEFAULT_SCOPE "admin" is not in DCR_ALLOWED_SCOPES "mcp offline_access"`)

	t.Setenv("DCR_DEFAULT_SCOPE", "")
	t.Setenv("AUTHLETE_SERVICE_APIKEY", "123") // set, but not enough
	err = run(context.Background(), "127.0.0.1:0", slog.New(slog.DiscardHandler), nil)
	assert.ErrorContains(t, err, "AUTHLETE_BASE_URL", "a partial Authlete configuration is an error, not a fallback to the emulator")
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
