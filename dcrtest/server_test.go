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
	_, err = srv.Client.ListClients(context.Background(), 0, 10)
	assert.NoError(t, err)
}
