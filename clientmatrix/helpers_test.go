package clientmatrix

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// faults make fakeDCR break one rule each. The zero value is a conformant
// RFC 7591/7592 server.
type faults struct {
	status200           bool   // registration answered 200, not 201
	noNoStore           bool   // no Cache-Control: no-store
	secretNoExpiry      bool   // client_secret without client_secret_expires_at
	refuseCustomSchemes bool   // redirect URIs must be http or https
	acceptFragment      bool   // a redirect URI with a fragment is registered
	wrongToken400       bool   // a bad registration access token gets 400
	delete200           bool   // DELETE answers 200
	widenScope          bool   // the registered scope gains "admin"
	noManagement        bool   // no registration_client_uri nor token
	managementBase      string // registration_client_uri's base instead of the server's; "relative": none
	textErrors          bool   // errors in text/plain
	noCORS              bool   // no CORS headers
	publicOnly          bool   // token_endpoint_auth_method none only
	requireScope        bool   // a registration without scope is refused
	noRefresh           bool   // the refresh_token grant is dropped
	noEcho              bool   // redirect_uris not echoed
	redirectGet         string // GET of a client answers 307 to this URL
	errorSuffix         string // appended to every error_description
	registrationLimit   int    // registrations after this many get 429; 0: no limit
	defaultScope        string // the scope of a registration that asks none, or ""
	initialAccessToken  string // if not "", registration requires it
	noTokenAdmitted     bool   // a client configuration request without Authorization is served
	noChallenge         bool   // a 401 for a bad registration access token has no WWW-Authenticate
}

// fakeDCR is a DCR server of the test's own, in memory.
type fakeDCR struct {
	f    faults
	base string // the server's URL, set after it starts
	mu   sync.Mutex
	next int
	regs map[string]*fakeClient
}

type fakeClient struct {
	token, secret string
	meta          map[string]any
}

func newFakeDCR(f faults) *fakeDCR { return &fakeDCR{f: f, regs: map[string]*fakeClient{}} }

// live is the number of clients registered and not deleted.
func (s *fakeDCR) live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.regs)
}

func (s *fakeDCR) headers(w http.ResponseWriter) {
	if !s.f.noNoStore {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
	}
	if !s.f.noCORS {
		w.Header().Set("Access-Control-Allow-Origin", "*")
	}
}

func (s *fakeDCR) fail(w http.ResponseWriter, status int, code, desc string) {
	s.headers(w)
	if s.f.textErrors {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		fmt.Fprintln(w, code, desc)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc + s.f.errorSuffix})
}

func (s *fakeDCR) write(w http.ResponseWriter, status int, v any) {
	s.headers(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *fakeDCR) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method == http.MethodOptions {
		if !s.f.noCORS {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.URL.Path == "/register" && r.Method == http.MethodPost {
		if s.f.initialAccessToken != "" && r.Header.Get("Authorization") != "Bearer "+s.f.initialAccessToken {
			s.fail(w, http.StatusUnauthorized, "invalid_token", "An initial access token is required.")
			return
		}
		s.register(w, r)
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/register/")
	c := s.regs[id]
	admitted := s.f.noTokenAdmitted && r.Header.Get("Authorization") == ""
	if !ok || c == nil || (!admitted && r.Header.Get("Authorization") != "Bearer "+c.token) {
		status := http.StatusUnauthorized
		if s.f.wrongToken400 {
			status = http.StatusBadRequest
		}
		if !s.f.noChallenge {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		s.fail(w, status, "invalid_token", "The registration access token is not valid.")
		return
	}
	switch r.Method {
	case http.MethodGet:
		if s.f.redirectGet != "" {
			http.Redirect(w, r, s.f.redirectGet, http.StatusTemporaryRedirect)
			return
		}
		s.write(w, http.StatusOK, s.info(id, c))
	case http.MethodPut:
		meta, ok := s.metadata(w, r)
		if !ok {
			return
		}
		if meta["client_id"] != id {
			s.fail(w, http.StatusBadRequest, "invalid_client_metadata", "client_id must be the client's.")
			return
		}
		delete(meta, "client_id")
		delete(meta, "client_secret")
		c.meta = meta
		s.write(w, http.StatusOK, s.info(id, c))
	case http.MethodDelete:
		delete(s.regs, id)
		if s.f.delete200 {
			s.write(w, http.StatusOK, map[string]any{})
			return
		}
		s.headers(w)
		w.WriteHeader(http.StatusNoContent)
	default:
		s.fail(w, http.StatusMethodNotAllowed, "invalid_request", "Method not allowed.")
	}
}

// metadata reads and checks a request's metadata, answering an error
// itself.
func (s *fakeDCR) metadata(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		s.fail(w, http.StatusUnsupportedMediaType, "invalid_request", "The Content-Type must be application/json.")
		return nil, false
	}
	var meta map[string]any
	if json.NewDecoder(r.Body).Decode(&meta) != nil || meta == nil {
		s.fail(w, http.StatusBadRequest, "invalid_client_metadata", "The body is not a JSON object.")
		return nil, false
	}
	uris, _ := stringList(meta["redirect_uris"])
	for _, u := range uris {
		p, err := url.Parse(u)
		switch {
		case err != nil || p.Scheme == "":
			s.fail(w, http.StatusBadRequest, "invalid_redirect_uri", "Not an absolute URI: "+u)
			return nil, false
		case strings.Contains(u, "#") && !s.f.acceptFragment:
			s.fail(w, http.StatusBadRequest, "invalid_redirect_uri", "A redirect URI must not have a fragment.")
			return nil, false
		case s.f.refuseCustomSchemes && p.Scheme != "http" && p.Scheme != "https":
			s.fail(w, http.StatusBadRequest, "invalid_redirect_uri", "The custom scheme "+p.Scheme+": is not allowed.")
			return nil, false
		}
	}
	if m, _ := meta["token_endpoint_auth_method"].(string); s.f.publicOnly && m != "none" {
		s.fail(w, http.StatusBadRequest, "invalid_client_metadata", "Only public clients (token_endpoint_auth_method none) may register.")
		return nil, false
	}
	if _, ok := meta["scope"]; s.f.requireScope && !ok {
		s.fail(w, http.StatusBadRequest, "invalid_client_metadata", "A scope is required.")
		return nil, false
	}
	if sc, _ := meta["scope"].(string); s.f.defaultScope != "" && strings.TrimSpace(sc) == "" {
		meta["scope"] = s.f.defaultScope
	}
	if s.f.widenScope {
		if sc, ok := meta["scope"].(string); ok {
			meta["scope"] = sc + " admin"
		}
	}
	if grants, ok := stringList(meta["grant_types"]); ok && s.f.noRefresh {
		var kept []any
		for _, g := range grants {
			if g != "refresh_token" {
				kept = append(kept, g)
			}
		}
		meta["grant_types"] = kept
	}
	return meta, true
}

func (s *fakeDCR) register(w http.ResponseWriter, r *http.Request) {
	if s.f.registrationLimit > 0 && s.next >= s.f.registrationLimit {
		w.Header().Set("Retry-After", "60")
		s.fail(w, http.StatusTooManyRequests, "too_many_requests", "Too many registrations from this address.")
		return
	}
	meta, ok := s.metadata(w, r)
	if !ok {
		return
	}
	s.next++
	id := fmt.Sprint(1000 + s.next)
	c := &fakeClient{token: fmt.Sprintf("rat-%d", s.next), meta: meta}
	if m, _ := meta["token_endpoint_auth_method"].(string); m != "none" {
		c.secret = fmt.Sprintf("secret-%d", s.next)
	}
	s.regs[id] = c
	status := http.StatusCreated
	if s.f.status200 {
		status = http.StatusOK
	}
	info := s.info(id, c)
	if !s.f.noManagement {
		base := s.base
		switch s.f.managementBase {
		case "":
		case "relative":
			base = ""
		default:
			base = s.f.managementBase
		}
		info["registration_client_uri"] = base + "/register/" + id
		info["registration_access_token"] = c.token
	}
	s.write(w, status, info)
}

func (s *fakeDCR) info(id string, c *fakeClient) map[string]any {
	info := map[string]any{"client_id": id}
	for k, v := range c.meta {
		info[k] = v
	}
	if s.f.noEcho {
		delete(info, "redirect_uris")
	}
	if c.secret != "" {
		info["client_secret"] = c.secret
		if !s.f.secretNoExpiry {
			info["client_secret_expires_at"] = 0
		}
	}
	return info
}

// startFake serves a fakeDCR with faults f, and returns it and its
// registration endpoint.
func startFake(t *testing.T, f faults) (*fakeDCR, string) {
	t.Helper()
	fake := newFakeDCR(f)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	fake.base = srv.URL
	return fake, srv.URL + "/register"
}

func run(t *testing.T, opts Options) *Report {
	t.Helper()
	r, err := Run(context.Background(), opts)
	require.NoError(t, err)
	if t.Failed() || testing.Verbose() {
		var b strings.Builder
		r.WriteTable(&b)
		t.Log("\n" + b.String())
	}
	return r
}

func clientResult(t *testing.T, r *Report, name string) ClientResult {
	t.Helper()
	for _, c := range r.Clients {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no client %s in the report", name)
	return ClientResult{}
}

func checkResult(t *testing.T, r *Report, name string) CheckResult {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in the report", name)
	return CheckResult{}
}

// assertAllPass asserts that every client but those in failing works,
// and every check but those passes ("skip:name" in failing lets check
// name be skipped).
func assertAllPass(t *testing.T, r *Report, failing ...string) {
	t.Helper()
	for _, c := range r.Clients {
		if !contains(failing, c.Name) {
			assert.False(t, c.Failed, "client %s: %s", c.Name, c.detail())
		}
	}
	for _, c := range r.Checks {
		if !contains(failing, c.Name) && !(c.Status == Skip && contains(failing, "skip:"+c.Name)) {
			assert.Equal(t, Pass, c.Status, "check %s: %s", c.Name, c.Reason)
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// counted is a server of the test's own that counts the requests it gets.
type counted struct {
	mu    sync.Mutex
	sent  []string
	serve http.HandlerFunc
}

func (c *counted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.sent = append(c.sent, r.Method+" "+r.URL.Path)
	c.mu.Unlock()
	c.serve(w, r)
}

func (c *counted) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.sent...)
}
