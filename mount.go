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
// registrationEndpoint), such as "/register". Mount panics if path is
// empty or "/".
func Mount(m Mux, path string, h http.Handler) {
	path = strings.TrimRight(path, "/")
	if path == "" {
		panic("dcr: Mount needs a path such as /register")
	}
	m.Handle(path, h)
	m.Handle(path+"/{client_id}", h)
}
