package interop

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authletetest"
)

// stack is an authorization server's DCR endpoints (the dcr handler on a
// ServeMux, with Options.InitialAccessToken when one is given) in front of the
// Authlete emulator, listening on 127.0.0.1.
type stack struct {
	URL      string // the issuer
	emulator *authletetest.Server
}

// RegistrationEndpoint is where clients register.
func (s *stack) RegistrationEndpoint() string { return s.URL + "/register" }

// MetadataURL is the RFC 8414 authorization server metadata.
func (s *stack) MetadataURL() string { return s.URL + "/.well-known/oauth-authorization-server" }

func startStack(t *testing.T, initialAccessToken string) *stack {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := &stack{URL: srv.URL}
	s.emulator = authletetest.NewServer(t, authletetest.Options{ManagementEndpoint: s.RegistrationEndpoint()})

	opts := dcr.Options{Logger: slog.New(slog.DiscardHandler)}
	if initialAccessToken != "" {
		verify, err := dcr.StaticTokens(initialAccessToken)
		if err != nil {
			t.Fatal(err)
		}
		opts.InitialAccessToken = verify
	}
	dcr.Mount(mux, "/register", dcr.New(s.emulator.Client(t), opts))
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                s.URL,
			"authorization_endpoint":                s.URL + "/authorize",
			"token_endpoint":                        s.URL + "/token",
			"registration_endpoint":                 s.RegistrationEndpoint(),
			"response_types_supported":              []string{"code"},
			"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
			"code_challenge_methods_supported":      []string{"S256"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		})
	})
	return s
}

// bearerTransport adds an initial access token to every request, for
// clients that take an *http.Client but have no option for one.
type bearerTransport string

func (t bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(t))
	return http.DefaultTransport.RoundTrip(r)
}
