package app

// This file is copied into the application module that TestReadme builds
// from the README (app/router.go is the README's): the application's own
// routers and middleware, served by dcrtest, through the four operations
// of RFC 7591 and RFC 7592.

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/dcrtest"
)

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func send(t *testing.T, method, url string, body string, auth func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(data)}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &a.body); err != nil {
			t.Errorf("%s %s: not JSON: %q", method, url, data)
		}
	}
	return a
}

func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func both(fs ...func(*http.Request)) func(*http.Request) {
	return func(r *http.Request) {
		for _, f := range fs {
			f(r)
		}
	}
}

func none(*http.Request) {}

// expect checks the status, and the headers every answer with
// credentials or errors carries (RFC 7591 §3.2.1, RFC 7592 §2).
func expect(t *testing.T, what string, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Errorf("%s: %d, want %d: %s", what, a.status, status, a.raw)
	}
	if status != http.StatusNoContent && a.header.Get("Content-Type") != "application/json" {
		t.Errorf("%s: Content-Type %q", what, a.header.Get("Content-Type"))
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q", what, a.header.Get("Cache-Control"))
	}
}

func TestConsumer(t *testing.T) {
	const iat, user, password = "iat-4f0c9a1e7b", "gateway", "gw-pass-77"
	withCert := func(r *http.Request) { r.Header.Set("X-Client-Verify", "SUCCESS") }
	routers := []struct {
		name             string
		router           func(h *dcr.Handler) http.Handler
		register, manage func(*http.Request) // the guards' credentials
		bareRegister     int                 // the answer to a registration without them
	}{
		{"chi, initial access token", func(h *dcr.Handler) http.Handler { return NewRouter(h, iat) },
			bearer(iat), none, http.StatusUnauthorized},
		{"ServeMux, gateway Basic and client certificate", func(h *dcr.Handler) http.Handler { return NewMux(h, user, password) },
			func(r *http.Request) { r.SetBasicAuth(user, password) }, withCert, http.StatusUnauthorized},
		{"chi r.With, client certificate on both", func(h *dcr.Handler) http.Handler {
			r := chi.NewRouter()
			dcr.Mount(r.With(RequireClientCert), "/register", h)
			return r
		}, withCert, withCert, http.StatusForbidden},
	}
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			srv := dcrtest.NewServer(t, dcrtest.Options{Router: rt.router})
			const metadata = `{"client_name":"Consumer","redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none"}`

			expect(t, "registration without the guard's credentials", send(t, "POST", srv.RegistrationEndpoint, metadata, none), rt.bareRegister)
			expect(t, "POST /register/", send(t, "POST", srv.RegistrationEndpoint+"/", metadata, rt.register), http.StatusNotFound)

			// RFC 7591 §3.2.1: 201, the metadata, client_id and the RFC 7592 fields.
			reg := send(t, "POST", srv.RegistrationEndpoint, metadata, rt.register)
			expect(t, "register", reg, http.StatusCreated)
			id, _ := reg.body["client_id"].(string)
			token, _ := reg.body["registration_access_token"].(string)
			uri, _ := reg.body["registration_client_uri"].(string)
			if id == "" || token == "" || uri != srv.RegistrationEndpoint+"/"+id {
				t.Fatalf("register: client_id %q, registration_client_uri %q (want under %s), token set %v", id, uri, srv.RegistrationEndpoint, token != "")
			}
			if reg.body["client_name"] != "Consumer" || reg.body["client_id_issued_at"] == nil {
				t.Errorf("register: %s", reg.raw)
			}
			if _, ok := reg.body["client_secret"]; ok {
				t.Errorf("a public client (none) got a client_secret")
			}

			// RFC 7592 §2.1: read with the registration access token.
			read := send(t, "GET", uri, "", both(rt.manage, bearer(token)))
			expect(t, "read", read, http.StatusOK)
			if read.body["client_id"] != id || read.body["client_name"] != "Consumer" {
				t.Errorf("read: %s", read.raw)
			}
			expect(t, "read with a wrong token", send(t, "GET", uri, "", both(rt.manage, bearer("wrong-"+token))), http.StatusUnauthorized)

			// RFC 7592 §2.2: update replaces the metadata; client_id must match.
			upd := send(t, "PUT", uri, `{"client_id":"`+id+`","client_name":"Renamed","redirect_uris":["https://app.example/cb2"],"token_endpoint_auth_method":"none"}`,
				both(rt.manage, bearer(token)))
			expect(t, "update", upd, http.StatusOK)
			if upd.body["client_name"] != "Renamed" || upd.body["client_id"] != id {
				t.Errorf("update: %s", upd.raw)
			}
			if uris, _ := upd.body["redirect_uris"].([]any); len(uris) != 1 || uris[0] != "https://app.example/cb2" {
				t.Errorf("update: redirect_uris %v", upd.body["redirect_uris"])
			}

			// RFC 7592 §2.3: delete is 204 with no body; the token dies with the client.
			del := send(t, "DELETE", uri, "", both(rt.manage, bearer(token)))
			expect(t, "delete", del, http.StatusNoContent)
			if del.raw != "" {
				t.Errorf("delete: body %q", del.raw)
			}
			gone := send(t, "GET", uri, "", both(rt.manage, bearer(token)))
			expect(t, "read after delete", gone, http.StatusUnauthorized)
			if gone.body["error"] != "invalid_token" || !strings.HasPrefix(gone.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("read after delete: %s %q", gone.raw, gone.header.Get("WWW-Authenticate"))
			}
			if n := srv.Authlete.Clients(); n != 0 {
				t.Errorf("%d clients left", n)
			}
		})
	}
}

// TestForms: each form of mounting in the README registers without a
// conflict.
func TestForms(t *testing.T) {
	forms(http.NotFoundHandler(), RequireClientCert)
}
