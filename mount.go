package dcr

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Mux is what Mount needs of a router. *http.ServeMux and chi.Router
// (github.com/go-chi/chi/v5) both have it.
type Mux interface {
	Handle(pattern string, handler http.Handler)
}

// Guard is middleware that Mount puts in front of one of the two
// endpoints, for checks that belong to one only: an initial access token
// or a gateway's credentials in front of registration, which the
// registration access token of a client configuration request cannot
// pass. Middleware for both endpoints is the router's (chi's r.With(mw)).
// A nil field adds nothing.
type Guard struct {
	// Register wraps the RFC 7591 registration endpoint, path.
	Register func(http.Handler) http.Handler
	// Manage wraps the RFC 7592 client configuration endpoint,
	// path + "/{client_id}".
	Manage func(http.Handler) http.Handler
}

// Mount registers h on m: at path, the RFC 7591 registration endpoint,
// and at path + "/{client_id}", the RFC 7592 client configuration
// endpoint, for every method; path + "/" is answered by h with a JSON 404.
// h is a *Handler or one wrapped in middleware; it answers the methods an
// endpoint does not serve with 405 and an Allow header itself.
//
// Each guard's Register wraps the registration endpoint (and path + "/"),
// its Manage the client configuration endpoint; the first guard is the
// outermost:
//
//	dcr.Mount(r, "/register", h, dcr.Guard{Register: requireInitialToken})
//
// path must be the base of the registration_client_uri that Authlete
// issues (the service's registrationManagementEndpoint, or else its
// registrationEndpoint), such as "/register", or "/" on a router that is
// already mounted there (chi's r.Route("/register", ...)); a Handler that
// sees Authlete issue another one logs a warning. Mount panics if h is
// nil or path does not start with "/" (a method or host, as in ServeMux's
// "POST /register", is no part of it).
//
// The Handler also serves the forms of chi and net/http that mount it on a
// subtree: chi's r.Mount("/register", h), and ServeMux's
// mux.Handle("/register/", h) with or without http.StripPrefix (which also
// needs mux.Handle("/register", h) for registration). There too, and on
// chi's own routes, path + "/" is answered with 404: it is never a second
// registration endpoint, outside the middleware put on path.
func Mount(m Mux, path string, h http.Handler, guards ...Guard) {
	if !strings.HasPrefix(path, "/") {
		panic(fmt.Sprintf(`dcr: Mount needs a path such as "/register", not %q`, path))
	}
	if h == nil || holdsNil(h) {
		panic("dcr: Mount needs a Handler, not nil")
	}
	register, manage := routed(h, registerRoute), routed(h, manageRoute)
	for i := len(guards) - 1; i >= 0; i-- {
		if g := guards[i].Register; g != nil {
			register = g(register)
		}
		if g := guards[i].Manage; g != nil {
			manage = g(manage)
		}
	}
	// A ServeMux, or a type that embeds one: it has ServeMux's Handler
	// method, which chi's routers do not. Its patterns differ from chi's.
	_, isServeMux := m.(interface {
		Handler(*http.Request) (http.Handler, string)
	})
	path = strings.TrimRight(path, "/")
	root := path
	if root == "" {
		root = "/"
		if isServeMux {
			root = "/{$}" // "/" alone would be every path of the ServeMux
		}
	}
	m.Handle(root, register)
	m.Handle(path+"/{client_id}", manage)
	if path != "" {
		// "/register/" is no endpoint, but a client that sends to it gets
		// the endpoint's JSON, through the registration's middleware.
		slash := path + "/"
		if isServeMux {
			slash += "{$}"
		}
		m.Handle(slash, notFound(register))
	}
	// Below a client configuration endpoint (path/ID/, path/ID/x,
	// path//ID): no endpoint either, answered as the endpoint's JSON, not
	// as the router's text, through the registration's middleware as
	// path/ is.
	below := path + "/*" // chi
	if isServeMux {
		below = path + "/" // a subtree, behind the patterns above
	}
	m.Handle(below, notFound(register))
}

// route is the endpoint Mount routed a request to.
type route int

const (
	noRoute       route = iota // not routed by Mount
	registerRoute              // path: the registration endpoint
	manageRoute                // path + "/{client_id}": client configuration
	notFoundRoute              // path + "/": no endpoint
)

// routeKey is the context key of a request's route.
type routeKey struct{}

// routed hands r to h marked as routed to e, so that a request routed to
// one endpoint is never served as the other, whatever Options.ClientID
// finds: a Guard on one cannot be gone around through the other.
func routed(h http.Handler, e route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, e)))
	})
}

// notFound hands r to h marked as a request for no endpoint. h is the
// registration's guards around routed(h, registerRoute), whose mark this
// one overrides.
func notFound(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), notFoundKey{}, true)))
	})
}

// notFoundKey marks a request that Mount routed to the Handler only to
// be answered with 404.
type notFoundKey struct{}

// routeOf is the endpoint Mount routed r to.
func routeOf(r *http.Request) route {
	if v, _ := r.Context().Value(notFoundKey{}).(bool); v {
		return notFoundRoute
	}
	e, _ := r.Context().Value(routeKey{}).(route)
	return e
}
