// Package dcrtest starts, in one call, what a test of DCR endpoints needs:
// an Authlete emulator (package authletetest), a dcr.Handler that calls it
// through a real authlete.Client, and an httptest server that serves the
// handler at /register, or the application's own router around it, with
// the emulator's registration_client_uri pointing at that server. No
// Authlete credentials are needed.
//
//	srv := dcrtest.NewServer(t, dcrtest.Options{})
//	resp, _ := http.Post(srv.RegistrationEndpoint, "application/json", body)
//
// An application tests its router and middleware with Router:
//
//	srv := dcrtest.NewServer(t, dcrtest.Options{Router: app.NewRouter})
package dcrtest

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// Options shape the server. The zero value works: an emulator with its
// defaults, a Handler with the zero dcr.Options, no middleware.
type Options struct {
	// Emulator describes the emulated Authlete service. Its
	// ManagementEndpoint is ignored: it is the server's /register.
	Emulator authletetest.Options
	// Handler are the Handler's options.
	Handler dcr.Options
	// Middleware, if not nil, wraps the Handler, as the application's own
	// (initial access tokens, CORS, rate limits) would, when Router is nil.
	Middleware func(http.Handler) http.Handler
	// Router, if not nil, returns what the server serves: the
	// application's handler tree, with h mounted at Path (as
	// dcr.Mount(r, Path, h, ...) does) and the application's middleware.
	// It is called once, before the server takes requests. Nil means h,
	// wrapped in Middleware, mounted at Path on a ServeMux. Router and
	// Middleware cannot both be set.
	Router func(h *dcr.Handler) http.Handler
	// Path is where Router mounts the handler: the emulator issues
	// registration_client_uri values below URL + Path. "" means
	// "/register".
	Path string
}

// Server is an httptest server that serves a dcr.Handler backed by an
// Authlete emulator.
type Server struct {
	// URL is the base URL of the server, e.g. http://127.0.0.1:43567.
	URL string
	// RegistrationEndpoint is URL + Options.Path (by default
	// "/register"); registration_client_uri is it + "/" + client ID.
	RegistrationEndpoint string
	// Authlete is the emulator, for its calls, faults and clients;
	// AuthleteURL is its base URL (AUTHLETE_BASE_URL) and AuthleteConfig
	// the authlete.Config of Client (for authletetest.CreateToken).
	Authlete       *authletetest.Emulator
	AuthleteURL    string
	AuthleteConfig authlete.Config
	// Client is the authlete.Client the Handler uses; Client.Admin() has
	// the management calls (ListClients, DeleteClient, ...).
	Client *authlete.Client
	// Handler is the Handler, before Options.Middleware.
	Handler *dcr.Handler

	servers []*httptest.Server
}

// NewServer starts a Server on 127.0.0.1 and closes it when tb's test
// ends.
func NewServer(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := Start(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts a Server on 127.0.0.1; Close stops it. Outside a test
// (an Example, a development server), use it instead of NewServer.
func Start(opts Options) (*Server, error) {
	if opts.Router != nil && opts.Middleware != nil {
		return nil, errors.New("dcrtest: Router and Middleware are both set; the Router applies the middleware")
	}
	path := opts.Path
	if path == "" {
		path = "/register"
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("dcrtest: Path %q does not start with /", path)
	}
	// The server's address comes first: the emulator issues URIs below it,
	// and the handler tree needs the emulator.
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String()
	s := &Server{URL: url, RegistrationEndpoint: url + strings.TrimRight(path, "/"), servers: []*httptest.Server{srv}}
	emu := opts.Emulator
	emu.ManagementEndpoint = s.RegistrationEndpoint
	s.Authlete = authletetest.New(emu)
	emuSrv := httptest.NewServer(s.Authlete)
	s.servers = append(s.servers, emuSrv)
	s.AuthleteURL = emuSrv.URL
	o := s.Authlete.Options()
	s.AuthleteConfig = authlete.Config{BaseURL: emuSrv.URL, ServiceAPIKey: o.ServiceID, ServiceAccessToken: o.AccessToken}
	client, err := authlete.New(s.AuthleteConfig)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Client = client
	s.Handler = dcr.New(client, opts.Handler)
	if opts.Router != nil {
		srv.Config.Handler = opts.Router(s.Handler)
	} else {
		var h http.Handler = s.Handler
		if opts.Middleware != nil {
			h = opts.Middleware(h)
		}
		mux := http.NewServeMux()
		dcr.Mount(mux, path, h)
		srv.Config.Handler = mux
	}
	srv.Start()
	return s, nil
}

// Close shuts the server and the emulator down.
func (s *Server) Close() {
	for _, srv := range s.servers {
		srv.Close()
	}
}
