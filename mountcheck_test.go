package dcr_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// TestMountMismatchWarning: a Handler whose registration_client_uri from
// Authlete is not below the path it serves warns once, through its
// Logger, with both URIs and the setting to change; one mounted where
// Authlete points (directly, on a subtree, behind StripPrefix, behind a
// proxy that adds a prefix) says nothing.
func TestMountMismatchWarning(t *testing.T) {
	cases := []struct {
		name, management string
		mount            func(h http.Handler) http.Handler
		path             string
		warn             bool
	}{
		{"mismatch", "https://as.example.com/clients", newRouter, "/register", true},
		{"mismatch on a prefix", "https://as.example.com/oauth/clients", newRouter, "/register", true},
		{"match", "https://as.example.com/register", newRouter, "/register", false},
		{"proxy adds a prefix", "https://as.example.com/oauth/register", newRouter, "/register", false},
		{"ServeMux subtree with StripPrefix", "https://as.example.com/oauth/register", func(h http.Handler) http.Handler {
			inner := http.NewServeMux()
			dcr.Mount(inner, "/register", h)
			outer := http.NewServeMux()
			outer.Handle("/oauth/", http.StripPrefix("/oauth", inner))
			return outer
		}, "/oauth/register", false},
		{"chi Route", "https://as.example.com/register", func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Route("/register", func(r chi.Router) { dcr.Mount(r, "/", h) })
			return r
		}, "/register", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			emu := httptest.NewServer(authletetest.New(authletetest.Options{ManagementEndpoint: tc.management}))
			defer emu.Close()
			client, err := authlete.New(authlete.Config{BaseURL: emu.URL,
				ServiceAPIKey: authletetest.DefaultServiceID, ServiceAccessToken: authletetest.DefaultAccessToken})
			require.NoError(t, err)
			var logs bytes.Buffer
			h := tc.mount(dcr.New(client, dcr.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
			for range 3 {
				rec := send(h, "POST", tc.path, "", `{"redirect_uris":["https://app.example/cb"]}`)
				require.Equal(t, 201, rec.Code, rec.Body.String())
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if !tc.warn {
				assert.Empty(t, strings.TrimSpace(logs.String()))
				return
			}
			require.Len(t, lines, 1, "one warning for three registrations")
			var line map[string]any
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &line))
			assert.Equal(t, "WARN", line["level"])
			assert.Contains(t, line["msg"], "Registration Management Endpoint (registrationManagementEndpoint)")
			assert.Equal(t, "http://example.com"+tc.path, line["registration_endpoint"])
			assert.Contains(t, line["registration_client_uri"], tc.management+"/")
			assert.Equal(t, "https://as.example.com"+tc.path, line["registration_management_endpoint"])
		})
	}
}
