package authletetest

import (
	"net/http/httptest"
	"testing"

	"github.com/dcr-go/dcr/authlete"
)

// Server is an Emulator listening on 127.0.0.1.
type Server struct {
	*Emulator
	// URL is the base URL, e.g. http://127.0.0.1:43567: AUTHLETE_BASE_URL.
	URL    string
	server *httptest.Server
}

// NewServer starts an Emulator on 127.0.0.1 and closes it when tb's test
// ends.
func NewServer(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := &Server{Emulator: New(opts)}
	s.server = httptest.NewServer(s.Emulator)
	s.URL = s.server.URL
	tb.Cleanup(s.server.Close)
	return s
}

// Config returns the authlete.Config of API v3 for this server.
func (s *Server) Config() authlete.Config {
	return authlete.Config{BaseURL: s.URL, APIVersion: authlete.V3,
		ServiceAPIKey: s.opts.ServiceID, ServiceAccessToken: s.opts.AccessToken}
}

// ConfigV2 returns the authlete.Config of API v2 for this server.
func (s *Server) ConfigV2() authlete.Config {
	return authlete.Config{BaseURL: s.URL, APIVersion: authlete.V2,
		ServiceAPIKey: s.opts.ServiceID, ServiceAPISecret: s.opts.APISecret}
}

// Client returns an authlete.Client of API v3 for this server.
func (s *Server) Client(tb testing.TB) *authlete.Client {
	tb.Helper()
	c, err := authlete.New(s.Config())
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Close shuts the server down; NewServer's cleanup does it too.
func (s *Server) Close() { s.server.Close() }
