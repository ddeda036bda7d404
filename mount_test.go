package dcr_test

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/dcr-go/dcr/dcrtest"
)

// guardInitialToken admits a request with the application's initial
// access token (RFC 7591 §3), for registration only: a client
// configuration request carries its registration access token there.
func guardInitialToken(want string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, err := dcr.BearerToken(r)
			if err != nil || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				dcr.WriteError(w, &dcr.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "An initial access token is required."})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// guardBasic admits a request with a gateway's Basic credentials, which
// open registration ignores (RFC 7592 requests need their bearer token
// in the same header, so it guards registration only).
func guardBasic(user, pass string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user))&subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="registration"`)
				dcr.WriteError(w, &dcr.Error{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "The gateway's credentials are required."})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// guardClientCert admits a request whose TLS client certificate the
// terminating proxy verified: it sets X-Client-Verify (nginx's
// $ssl_client_verify) and removes any the client sent.
func guardClientCert(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Client-Verify") != "SUCCESS" {
			dcr.WriteError(w, &dcr.Error{Status: http.StatusForbidden, Code: "access_denied", Description: "A verified client certificate is required."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

const (
	guardIAT  = "iat-8c1d0f6a2b"
	guardUser = "gateway"
	guardPass = "s3cret-pass"
)

func withIAT(r *http.Request)   { r.Header.Set("Authorization", "Bearer "+guardIAT) }
func withBasic(r *http.Request) { r.SetBasicAuth(guardUser, guardPass) }
func withCert(r *http.Request)  { r.Header.Set("X-Client-Verify", "SUCCESS") }
func withNothing(*http.Request) {}

// TestMountGuards: each shape of middleware an application puts in front
// of the endpoints, on the routers, against the emulator: what guards
// registration never stops a client configuration request that carries
// its registration access token, unless the application mounts it on both
// (r.With).
func TestMountGuards(t *testing.T) {
	shapes := []struct {
		name   string
		router func(h *dcr.Handler) http.Handler
		// register and manage add the credentials each endpoint's guard
		// wants; bare* are the statuses without them.
		register, manage         func(*http.Request)
		bareRegister, bareManage int
		// stuck: the client can never manage its registration.
		stuck bool
	}{
		{"ServeMux, initial access token on registration", func(h *dcr.Handler) http.Handler {
			mux := http.NewServeMux()
			dcr.Mount(mux, "/register", h, dcr.Guard{Register: guardInitialToken(guardIAT)})
			return mux
		}, withIAT, withNothing, 401, 200, false},
		{"chi, initial access token on registration", func(h *dcr.Handler) http.Handler {
			r := chi.NewRouter()
			dcr.Mount(r, "/register", h, dcr.Guard{Register: guardInitialToken(guardIAT)})
			return r
		}, withIAT, withNothing, 401, 200, false},
		{"chi, gateway Basic credentials on registration", func(h *dcr.Handler) http.Handler {
			r := chi.NewRouter()
			dcr.Mount(r, "/register", h, dcr.Guard{Register: guardBasic(guardUser, guardPass)})
			return r
		}, withBasic, withNothing, 401, 200, false},
		{"ServeMux, initial access token and client certificate on management", func(h *dcr.Handler) http.Handler {
			mux := http.NewServeMux()
			dcr.Mount(mux, "/register", h, dcr.Guard{Register: guardInitialToken(guardIAT), Manage: guardClientCert})
			return mux
		}, withIAT, withCert, 401, 403, false},
		{"chi, two guards", func(h *dcr.Handler) http.Handler {
			r := chi.NewRouter()
			dcr.Mount(r, "/register", h, dcr.Guard{Register: guardBasic(guardUser, guardPass)}, dcr.Guard{Manage: guardClientCert})
			return r
		}, withBasic, withCert, 401, 403, false},
		{"chi r.With, client certificate on both", func(h *dcr.Handler) http.Handler {
			r := chi.NewRouter()
			dcr.Mount(r.With(guardClientCert), "/register", h)
			return r
		}, withCert, withCert, 403, 403, false},
		{"chi r.With, initial access token on both: reads are refused", func(h *dcr.Handler) http.Handler {
			r := chi.NewRouter()
			dcr.Mount(r.With(guardInitialToken(guardIAT)), "/register", h)
			return r
		}, withIAT, withNothing, 401, 401, true},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			srv := dcrtest.NewServer(t, dcrtest.Options{Router: sh.router})
			do := func(method, url, token, body string, creds func(*http.Request)) (*http.Response, map[string]any) {
				t.Helper()
				req, err := http.NewRequest(method, url, strings.NewReader(body))
				require.NoError(t, err)
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				creds(req)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				data, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				var m map[string]any
				assert.NoError(t, json.Unmarshal(data, &m), "%s %s: the answer is JSON: %q", method, url, data)
				return resp, m
			}
			const metadata = `{"client_name":"Guarded","redirect_uris":["https://app.example/cb"]}`

			resp, _ := do("POST", srv.RegistrationEndpoint, "", metadata, withNothing)
			assert.Equal(t, sh.bareRegister, resp.StatusCode, "registration without the guard's credentials")
			resp, _ = do("POST", srv.RegistrationEndpoint+"/", "", metadata, withNothing)
			assert.Equal(t, sh.bareRegister, resp.StatusCode, "POST /register/ meets the registration's guard")
			resp, body := do("POST", srv.RegistrationEndpoint+"/", "", metadata, sh.register)
			assert.Equal(t, 404, resp.StatusCode, "POST /register/ is no endpoint")
			assert.Equal(t, "invalid_request", body["error"])

			resp, client := do("POST", srv.RegistrationEndpoint, "", metadata, sh.register)
			require.Equal(t, 201, resp.StatusCode, client)
			id, _ := client["client_id"].(string)
			uri, _ := client["registration_client_uri"].(string)
			token, _ := client["registration_access_token"].(string)
			require.Equal(t, srv.RegistrationEndpoint+"/"+id, uri)

			resp, _ = do("GET", uri, token, "", withNothing)
			assert.Equal(t, sh.bareManage, resp.StatusCode, "a read with its registration access token only")
			if sh.stuck {
				return
			}
			resp, got := do("GET", uri, token, "", sh.manage)
			assert.Equal(t, 200, resp.StatusCode, got)
			assert.Equal(t, "Guarded", got["client_name"])
			resp, got = do("PUT", uri, token, `{"client_id":"`+id+`","client_name":"Renamed","redirect_uris":["https://app.example/cb"]}`, sh.manage)
			assert.Equal(t, 200, resp.StatusCode, got)
			assert.Equal(t, "Renamed", got["client_name"])
			req, _ := http.NewRequest("DELETE", uri, nil)
			sh.manage(req)
			req.Header.Set("Authorization", "Bearer "+token)
			dresp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			dresp.Body.Close()
			assert.Equal(t, 204, dresp.StatusCode)
			assert.Equal(t, 0, srv.Authlete.Clients())
		})
	}
}

// TestMountTrailingSlash: "/register/" on Mount's patterns is answered
// by the handler with the endpoint's JSON, for every method, on both
// routers, and never registers a client.
func TestMountTrailingSlash(t *testing.T) {
	for _, rt := range routers[:2] {
		t.Run(rt.name, func(t *testing.T) {
			backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
			h := rt.mount(dcr.New(backend, dcr.Options{}))
			for _, method := range []string{"POST", "GET", "PUT", "DELETE"} {
				rec := send(h, method, "/register/", "Bearer "+ratToken, `{}`)
				assert.Equal(t, 404, rec.Code, method)
				assert.Equal(t, "application/json", rec.Header().Get("Content-Type"), method)
				assert.JSONEq(t, `{"error":"invalid_request","error_description":"There is no such endpoint."}`, rec.Body.String(), method)
			}
			// Below a client configuration endpoint: the same JSON, never the
			// router's plain text (ServeMux redirects "/register//123" to its clean path).
			for _, path := range []string{"/register/123/", "/register/123/x", "/register/123/x/y"} {
				for _, method := range []string{"POST", "GET", "PUT", "DELETE"} {
					rec := send(h, method, path, "Bearer "+ratToken, `{}`)
					assert.Equal(t, 404, rec.Code, method+" "+path)
					assert.Equal(t, "application/json", rec.Header().Get("Content-Type"), method+" "+path)
				}
			}
			assert.Empty(t, backend.recorded())
		})
	}
}

// TestMountRegisterGuardCannotBeBypassed: no request path reaches
// Authlete's register call around a Guard's Register. The attacker's
// paths are generated: every sequence of up to three segments of
// look-alikes of "register" (case, percent-encoding, dot segments, empty
// segments), with and without a trailing slash or a query, sent raw as a
// client would, to ServeMux and chi, mounted at /register and below /oauth.
func TestMountRegisterGuardCannotBeBypassed(t *testing.T) {
	deny := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	}
	routers := map[string]func(h http.Handler) http.Handler{
		"ServeMux": func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			dcr.Mount(mux, "/register", h, dcr.Guard{Register: deny})
			return mux
		},
		"chi": func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			dcr.Mount(r, "/register", h, dcr.Guard{Register: deny})
			return r
		},
		"chi Route": func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Route("/oauth", func(r chi.Router) { dcr.Mount(r, "/register", h, dcr.Guard{Register: deny}) })
			return r
		},
		"ServeMux nested with StripPrefix": func(h http.Handler) http.Handler {
			inner := http.NewServeMux()
			dcr.Mount(inner, "/register", h, dcr.Guard{Register: deny})
			outer := http.NewServeMux()
			outer.Handle("/oauth/", http.StripPrefix("/oauth", inner))
			return outer
		},
	}
	segments := []string{"register", "REGISTER", "Register", "regist%65r", "register%2F", "register%2f.", "%72egister",
		"", ".", "..", "%2e", "%2E%2E", "oauth", "register;x", "register ", "register%00", "register%20"}
	var paths []string
	var build func(prefix string, depth int)
	build = func(prefix string, depth int) {
		if depth == 0 {
			return
		}
		for _, s := range segments {
			p := prefix + "/" + s
			paths = append(paths, p, p+"/", p+"?", p+"/?x=1")
			build(p, depth-1)
		}
	}
	build("", 3)
	for name, mount := range routers {
		t.Run(name, func(t *testing.T) {
			var registered bool
			backend := backendFunc(func(_ context.Context, op string, _ *authlete.Request) (*authlete.Response, error) {
				registered = registered || op == "register"
				return &authlete.Response{Action: authlete.ActionOK, ResponseContent: content}, nil
			})
			h := mount(dcr.New(backend, dcr.Options{Logger: slog.New(slog.DiscardHandler)}))
			sent := 0
			for _, path := range paths {
				raw := "POST " + path + " HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
				req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
				if err != nil {
					continue // not a request a server would take
				}
				sent++
				h.ServeHTTP(httptest.NewRecorder(), req)
				require.False(t, registered, "POST %s registered around the guard", path)
			}
			assert.Greater(t, sent, 10000)
		})
	}
}

// TestMountGuardsHoldWithOwnClientID: with Options.ClientID of the
// application's own (here one that reads the wrong name, so it answers ""
// on the client configuration route, or one that finds an ID on the
// registration route), a request routed by Mount to one endpoint is never
// served as the other: a Guard's Register and Manage cannot be gone around.
func TestMountGuardsHoldWithOwnClientID(t *testing.T) {
	deny := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	}
	ids := map[string]func(*http.Request) string{
		"wrong name":  func(r *http.Request) string { return chi.URLParam(r, "id") },
		"from header": func(r *http.Request) string { return r.Header.Get("X-Client-ID") },
	}
	for idName, id := range ids {
		for _, rt := range []struct {
			name  string
			mount func(m dcr.Mux, h http.Handler, g dcr.Guard) http.Handler
		}{
			{"ServeMux", func(_ dcr.Mux, h http.Handler, g dcr.Guard) http.Handler {
				mux := http.NewServeMux()
				dcr.Mount(mux, "/register", h, g)
				return mux
			}},
			{"chi", func(_ dcr.Mux, h http.Handler, g dcr.Guard) http.Handler {
				r := chi.NewRouter()
				dcr.Mount(r, "/register", h, g)
				return r
			}},
		} {
			t.Run(idName+"/"+rt.name, func(t *testing.T) {
				var ops []string
				backend := backendFunc(func(_ context.Context, op string, _ *authlete.Request) (*authlete.Response, error) {
					ops = append(ops, op)
					return &authlete.Response{Action: authlete.ActionOK, ResponseContent: content}, nil
				})
				h := dcr.New(backend, dcr.Options{ClientID: id, Logger: slog.New(slog.DiscardHandler)})
				reg := rt.mount(nil, h, dcr.Guard{Manage: deny})
				for _, method := range []string{"GET", "PUT", "DELETE"} {
					req := httptest.NewRequest(method, "/register", strings.NewReader(`{}`))
					req.Header.Set("X-Client-ID", "123")
					req.Header.Set("Authorization", "Bearer "+ratToken)
					reg.ServeHTTP(httptest.NewRecorder(), req)
				}
				assert.Empty(t, ops, "a client configuration request served around Guard.Manage")
				manage := rt.mount(nil, h, dcr.Guard{Register: deny})
				req := httptest.NewRequest("POST", "/register/123", strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				manage.ServeHTTP(httptest.NewRecorder(), req)
				assert.Empty(t, ops, "a registration served around Guard.Register")
			})
		}
	}
}

// routers are the ways an application mounts the handler in one line.
var routers = []struct {
	name  string
	mount func(http.Handler) http.Handler
}{
	{"ServeMux", newRouter},
	{"chi", func(h http.Handler) http.Handler {
		r := chi.NewRouter()
		dcr.Mount(r, "/register", h)
		return r
	}},
	{"chi subrouter", func(h http.Handler) http.Handler {
		r := chi.NewRouter()
		r.Route("/oauth", func(r chi.Router) { dcr.Mount(r, "/register/", h) })
		return r
	}},
	{"chi Mount", func(h http.Handler) http.Handler {
		r := chi.NewRouter()
		r.Mount("/register", h)
		return r
	}},
	{"chi Mount with middleware", func(h http.Handler) http.Handler {
		r := chi.NewRouter()
		r.With(func(next http.Handler) http.Handler { return next }).Mount("/register", h)
		return r
	}},
	{"chi Route with Mount at /", func(h http.Handler) http.Handler {
		r := chi.NewRouter()
		r.Route("/register", func(r chi.Router) { dcr.Mount(r, "/", h) })
		return r
	}},
	{"chi Mount of a ServeMux", func(h http.Handler) http.Handler {
		mux := http.NewServeMux()
		dcr.Mount(mux, "/register", h)
		r := chi.NewRouter()
		r.Mount("/api", http.StripPrefix("/api", mux))
		r.Mount("/register", h)
		return r
	}},
	{"ServeMux subtree", func(h http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/register", h)
		mux.Handle("/register/", h)
		return mux
	}},
	{"ServeMux subtree with StripPrefix", func(h http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/register", h)
		mux.Handle("/register/", http.StripPrefix("/register", h))
		return mux
	}},
	{"ServeMux with methods and host", func(h http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("POST /register", h)
		mux.Handle("127.0.0.1/register/", h)
		return mux
	}},
	{"ServeMux nested with StripPrefix", func(h http.Handler) http.Handler {
		inner := http.NewServeMux()
		dcr.Mount(inner, "/register", h)
		outer := http.NewServeMux()
		outer.Handle("/oauth/", http.StripPrefix("/oauth", inner))
		return outer
	}},
	{"ServeMux subtree nested with StripPrefix", func(h http.Handler) http.Handler {
		inner := http.NewServeMux()
		inner.Handle("/register", h)
		inner.Handle("/register/", http.StripPrefix("/register", h))
		outer := http.NewServeMux()
		outer.Handle("/oauth/", http.StripPrefix("/oauth", inner))
		return outer
	}},
	{"chi catch-all", func(h http.Handler) http.Handler {
		r := chi.NewRouter()
		r.Post("/register", h.ServeHTTP)
		r.Handle("/register/*", h)
		return r
	}},
	{"ServeMux embedded", func(h http.Handler) http.Handler {
		mux := embeddedMux{http.NewServeMux()}
		dcr.Mount(mux, "/register", h)
		return mux
	}},
}

// embeddedMux is an application's router type that embeds a ServeMux.
type embeddedMux struct{ *http.ServeMux }

// underOAuth are the router forms mounted below /oauth.
var underOAuth = map[string]bool{"chi subrouter": true, "ServeMux nested with StripPrefix": true, "ServeMux subtree nested with StripPrefix": true}

func TestMount(t *testing.T) {
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			backend := succeeding(content)
			srv := httptest.NewServer(rt.mount(dcr.New(backend, dcr.Options{})))
			defer srv.Close()
			prefix := srv.URL
			if underOAuth[rt.name] {
				prefix += "/oauth"
			}
			for _, op := range operations {
				r := op.request()
				r.RequestURI = ""
				u := prefix + op.path
				r.URL, _ = r.URL.Parse(u)
				r.Host = r.URL.Host
				resp, err := srv.Client().Do(r)
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want, wantBody := map[string]int{"register": 201, "get": 200, "update": 200, "delete": 204}[op.name], content
				if op.name == "delete" {
					wantBody = ""
				}
				assert.Equal(t, want, resp.StatusCode, op.name)
				assert.Equal(t, wantBody, string(body), op.name)
			}
			var got []call
			for _, op := range operations {
				got = append(got, op.want)
			}
			assert.Equal(t, got, backend.recorded())

			// Not ours: the router answers.
			resp, err := srv.Client().Get(prefix + "/register/1/extra")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 404, resp.StatusCode)
		})
	}
}

// TestMountRejectsWhatCannotServe: Mount and New panic at once on what
// would fail on every request: no path, a ServeMux pattern with a method
// or host for a path, a nil Handler, a nil Backend or a nil pointer as
// one (the *authlete.Client of a failed authlete.New).
func TestMountRejectsWhatCannotServe(t *testing.T) {
	h := dcr.New(succeeding(content), dcr.Options{})
	for _, path := range []string{"", "register", "POST /register", "example.com/register"} {
		assert.PanicsWithValue(t, fmt.Sprintf(`dcr: Mount needs a path such as "/register", not %q`, path),
			func() { dcr.Mount(http.NewServeMux(), path, h) }, path)
	}
	var nilHandler *dcr.Handler
	assert.PanicsWithValue(t, "dcr: Mount needs a Handler, not nil", func() { dcr.Mount(http.NewServeMux(), "/register", nil) })
	assert.PanicsWithValue(t, "dcr: Mount needs a Handler, not nil", func() { dcr.Mount(http.NewServeMux(), "/register", nilHandler) })
	assert.PanicsWithValue(t, "dcr: Mount needs a Handler, not nil", func() { dcr.Mount(http.NewServeMux(), "/register", http.HandlerFunc(nil)) })
	var client *authlete.Client
	assert.PanicsWithValue(t, "dcr: nil Backend", func() { dcr.New(client, dcr.Options{}) })
	assert.PanicsWithValue(t, "dcr: nil Backend", func() { dcr.New(nil, dcr.Options{}) })
	assert.NotPanics(t, func() { dcr.Mount(http.NewServeMux(), "/", h) })
}

// TestMountAtRootOfServeMux: "/" on a ServeMux is the root only, not
// every path.
func TestMountAtRootOfServeMux(t *testing.T) {
	for name, mux := range map[string]dcr.Mux{"ServeMux": http.NewServeMux(), "embedded": embeddedMux{http.NewServeMux()}} {
		backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
		dcr.Mount(mux, "/", dcr.New(backend, dcr.Options{}))
		h := mux.(http.Handler)
		assert.Equal(t, 201, send(h, "POST", "/", "", `{}`).Code, name)
		for _, path := range []string{"/a/b", "/1/x", "/register/", "/%2F", "/%2f"} {
			assert.Equal(t, 404, send(h, "POST", path, "", `{}`).Code, name+" "+path)
		}
		assert.Len(t, backend.recorded(), 1, name)
	}
}

// TestSubtreeRootIsNoEndpoint: under every form of mounting, path + "/"
// ("/register/") is answered with the JSON 404 and never registers: on a
// subtree pattern it would otherwise be a second registration endpoint
// beside "/register", outside the middleware the application put on that
// one.
func TestSubtreeRootIsNoEndpoint(t *testing.T) {
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			backend := succeeding(content)
			h := rt.mount(dcr.New(backend, dcr.Options{}))
			prefix := ""
			if underOAuth[rt.name] {
				prefix = "/oauth"
			}
			r := httptest.NewRequest("POST", "http://127.0.0.1"+prefix+"/register/", strings.NewReader(metadata))
			r.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			assert.Equal(t, 404, rec.Code, rec.Body.String())
			assert.JSONEq(t, `{"error":"invalid_request","error_description":"There is no such endpoint."}`, rec.Body.String())
			assert.Empty(t, backend.recorded())
		})
	}
}
