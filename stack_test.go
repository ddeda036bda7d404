package dcr_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// stack is the handler, the Authlete client and the emulator, each behind
// real HTTP on 127.0.0.1.
type stack struct {
	emulator *authletetest.Server
	server   *httptest.Server
}

func newStack(t *testing.T, opts dcr.Options, cfg func(*authlete.Config)) *stack {
	t.Helper()
	mux := http.NewServeMux()
	s := &stack{server: httptest.NewServer(mux)}
	t.Cleanup(s.server.Close)
	s.emulator = authletetest.NewServer(t, authletetest.Options{ManagementEndpoint: s.server.URL + "/register"})
	config := s.emulator.Config()
	if cfg != nil {
		cfg(&config)
	}
	client, err := authlete.New(config)
	require.NoError(t, err)
	if opts.Logger == nil {
		opts.Logger = sinkLogger(t)
	}
	dcr.Mount(mux, "/register", dcr.New(client, opts))
	return s
}

// do sends a request and returns the response with its body read.
func (s *stack) do(t *testing.T, method, url, token, body string) (*http.Response, string) {
	t.Helper()
	if strings.HasPrefix(url, "/") {
		url = s.server.URL + url
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
		logSink.secret(token)
	}
	resp, err := s.server.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	secretsIn(data)
	return resp, string(data)
}

func TestStackRoundTrip(t *testing.T) {
	for _, version := range []string{"V3", "V2"} {
		t.Run(version, func(t *testing.T) {
			s := newStack(t, dcr.Options{}, func(c *authlete.Config) {
				if version == "V2" {
					*c = authlete.Config{BaseURL: c.BaseURL, APIVersion: "V2",
						ServiceAPIKey: authletetest.DefaultServiceID, ServiceAPISecret: authletetest.DefaultAPISecret}
				}
			})
			resp, body := s.do(t, "POST", "/register", "", `{"client_name":"Claude","redirect_uris":["http://localhost:33418/callback"],"token_endpoint_auth_method":"none","scope":""}`)
			require.Equal(t, 201, resp.StatusCode, body)
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			var reg map[string]any
			require.NoError(t, json.Unmarshal([]byte(body), &reg))
			uri, token := reg["registration_client_uri"].(string), reg["registration_access_token"].(string)
			assert.Equal(t, s.server.URL+"/register/"+reg["client_id"].(string), uri)

			resp, got := s.do(t, "GET", uri, token, "")
			require.Equal(t, 200, resp.StatusCode)
			assert.JSONEq(t, body, got)

			update := fmt.Sprintf(`{"client_id":%q,"client_name":"Claude Code","redirect_uris":["http://127.0.0.1:33418/callback"],"token_endpoint_auth_method":"none"}`, reg["client_id"])
			resp, got = s.do(t, "PUT", uri, token, update)
			require.Equal(t, 200, resp.StatusCode, got)
			assert.Contains(t, got, `"client_name":"Claude Code"`)

			resp, got = s.do(t, "PUT", uri, "wrong-token", update)
			assert.Equal(t, 401, resp.StatusCode)
			assert.Equal(t, `Bearer error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))

			resp, got = s.do(t, "DELETE", uri, token, "")
			assert.Equal(t, 204, resp.StatusCode)
			assert.Empty(t, got)
			assert.Empty(t, resp.Header.Get("Content-Type"))

			resp, got = s.do(t, "GET", uri, token, "")
			assert.Equal(t, 401, resp.StatusCode)
			assert.Equal(t, `Bearer error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
			assert.Contains(t, got, `"error":"invalid_token"`)
		})
	}
}

func TestStackRejectsBadMetadata(t *testing.T) {
	s := newStack(t, dcr.Options{}, nil)
	resp, body := s.do(t, "POST", "/register", "", `{"redirect_uris":["https://app.example/cb#frag"]}`)
	assert.Equal(t, 400, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var e struct{ Error, ErrorDescription string }
	require.NoError(t, json.Unmarshal([]byte(body), &e))
	assert.Equal(t, "invalid_redirect_uri", e.Error, "Authlete's error body is relayed: %s", body)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
