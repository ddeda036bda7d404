package dcr

import (
	"net/http"
	"strings"
)

// Mux is what Mount needs of a router. *http.ServeMux and chi.Router
// (github.com/go-chi/chi/v5) both have it.
type Mux interface {
	Handle(pattern string, handler http.Handler)
}

// Mount registers h on m twice: at path, the RFC 7591 registration
// endpoint, and at path + "/{client_id}", the RFC 7592 client
// configuration endpoint, for every method. h is a *Handler or one
// wrapped in middleware; it answers the methods an endpoint does not serve
// with 405 and an Allow header itself.
//
// path must be the base of the registration_client_uri that Authlete
// issues (the service's registrationManagementEndpoint, or else its
// registrationEndpoint), such as "/register", or "/" on a router that is
// already mounted there (chi's r.Route("/register", ...)). Mount panics if
// path is empty.
//
// The Handler also serves the forms of chi and net/http that mount it on a
// subtree: chi's r.Mount("/register", h), and ServeMux's
// mux.Handle("/register/", h) with or without http.StripPrefix (which also
// needs mux.Handle("/register", h) for registration).
func Mount(m Mux, path string, h http.Handler) {
	if path == "" {
		panic(`dcr: Mount needs a path such as "/register"`)
	}
	path = strings.TrimRight(path, "/")
	root := path
	if root == "" {
		root = "/"
		if _, ok := m.(*http.ServeMux); ok {
			root = "/{$}" // "/" alone would be every path of the ServeMux
		}
	}
	m.Handle(root, h)
	m.Handle(path+"/{client_id}", h)
}
