package dcrtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/dcrtest"
)

// TestNewServer: the four operations at the URIs the emulator issues,
// through the application's middleware, and the server's parts exposed.
func TestNewServer(t *testing.T) {
	var seen []string
	verify, err := dcr.StaticTokens("iat-0123456789abcdef")
	require.NoError(t, err)
	srv := dcrtest.NewServer(t, dcrtest.Options{
		Handler: dcr.Options{InitialAccessToken: verify},
		Middleware: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = append(seen, r.Method)
				next.ServeHTTP(w, r)
			})
		},
	})
	do := func(method, url, token, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(data, &m)
		return resp.StatusCode, m
	}
	status, client := do("POST", srv.RegistrationEndpoint, "iat-0123456789abcdef", `{"redirect_uris":["https://app.example/cb"]}`)
	require.Equal(t, 201, status, client)
	uri, token := client["registration_client_uri"].(string), client["registration_access_token"].(string)
	assert.Equal(t, srv.RegistrationEndpoint+"/"+client["client_id"].(string), uri)
	status, _ = do("GET", uri, token, "")
	assert.Equal(t, 200, status)
	status, _ = do("PUT", uri, token, `{"client_id":"`+client["client_id"].(string)+`","redirect_uris":["https://app.example/cb2"]}`)
	assert.Equal(t, 200, status)
	status, _ = do("DELETE", uri, token, "")
	assert.Equal(t, 204, status)
	status, _ = do("POST", srv.RegistrationEndpoint, "wrong", `{}`)
	assert.Equal(t, 401, status, "Options.Handler is used")

	assert.Equal(t, []string{"POST", "GET", "PUT", "DELETE", "POST"}, seen, "Options.Middleware wraps the handler")
	assert.Equal(t, 4, srv.Authlete.Calls(""), "the emulator got the four calls")
	assert.Equal(t, 0, srv.Authlete.Clients())
	_, err = srv.Client.Admin().ListClients(context.Background(), 0, 10)
	assert.NoError(t, err)
}

// TestNewServerRouter: the server serves the application's own router,
// mounted at Path, and the emulator's registration_client_uri points
// into it.
func TestNewServerRouter(t *testing.T) {
	srv := dcrtest.NewServer(t, dcrtest.Options{
		Path: "/oauth/register",
		Router: func(h *dcr.Handler) http.Handler {
			mux := http.NewServeMux()
			dcr.Mount(mux, "/oauth/register", h)
			mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
			return mux
		},
	})
	assert.Equal(t, srv.URL+"/oauth/register", srv.RegistrationEndpoint)
	resp, err := http.Post(srv.RegistrationEndpoint, "application/json", strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`))
	require.NoError(t, err)
	var client map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&client))
	resp.Body.Close()
	require.Equal(t, 201, resp.StatusCode, client)
	uri := client["registration_client_uri"].(string)
	assert.Equal(t, srv.RegistrationEndpoint+"/"+client["client_id"].(string), uri)
	req, _ := http.NewRequest("GET", uri, nil)
	req.Header.Set("Authorization", "Bearer "+client["registration_access_token"].(string))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	resp, err = http.Get(srv.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, "the rest of the application's router is served")

	_, err = dcrtest.Start(dcrtest.Options{Router: func(h *dcr.Handler) http.Handler { return h }, Middleware: func(h http.Handler) http.Handler { return h }})
	assert.Error(t, err, "Router and Middleware together")
	_, err = dcrtest.Start(dcrtest.Options{Path: "register"})
	assert.Error(t, err)
}
