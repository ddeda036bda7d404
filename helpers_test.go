package dcr_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

func send(h http.Handler, method, path, authorization, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
		logSink.secret(strings.Fields(authorization)...)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	secretsIn(rec.Body.Bytes())
	return rec
}

// noStore are the headers of every JSON answer.
func noStore() http.Header {
	return http.Header{
		"Content-Type":  {"application/json"},
		"Cache-Control": {"no-store"},
		"Pragma":        {"no-cache"},
	}
}

func with(h http.Header, kv ...string) http.Header {
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// newRouter mounts h on a ServeMux, as an application would.
func newRouter(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	dcr.Mount(mux, "/register", h)
	return mux
}

type operation struct {
	name, method, path, body string
	want                     call
}

var operations = []operation{
	{"register", http.MethodPost, "/register", metadata,
		call{"register", authlete.Request{JSON: metadata}}}, // the bearer token is not forwarded on registration
	{"get", http.MethodGet, "/register/" + clientID, "",
		call{"get", authlete.Request{ClientID: clientID, Token: ratToken}}},
	{"update", http.MethodPut, "/register/" + clientID, metadata,
		call{"update", authlete.Request{ClientID: clientID, Token: ratToken, JSON: metadata}}},
	{"delete", http.MethodDelete, "/register/" + clientID, "",
		call{"delete", authlete.Request{ClientID: clientID, Token: ratToken}}},
}

func (op operation) request() *http.Request {
	r := httptest.NewRequest(op.method, op.path, strings.NewReader(op.body))
	if op.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer "+ratToken)
	return r
}

// errorBody decodes an RFC-shaped error body, failing on any other shape.
func errorBody(t *testing.T, body []byte) (code, description string) {
	t.Helper()
	var e map[string]string
	require.NoError(t, json.Unmarshal(body, &e), "body %q", body)
	require.Len(t, e, 2, "body %q", body)
	require.Contains(t, e, "error")
	require.Contains(t, e, "error_description")
	return e["error"], e["error_description"]
}

// call is one Backend call as the scripted backend saw it.
type call struct {
	op  string
	req authlete.Request
}

// scripted is a Backend that records its calls and answers each with resp
// and err, or, for an operation byOp has, with its answer.
type scripted struct {
	resp *authlete.Response
	err  error
	byOp map[string]*authlete.Response

	mu    sync.Mutex
	calls []call
}

func (s *scripted) answer(ctx context.Context, op string, req *authlete.Request) (*authlete.Response, error) {
	s.mu.Lock()
	s.calls = append(s.calls, call{op, *req})
	s.mu.Unlock()
	if resp, ok := s.byOp[op]; ok {
		return resp, nil
	}
	return s.resp, s.err
}

// succeeding is a scripted Backend that answers each operation as
// Authlete does when it succeeds: CREATED, OK, UPDATED with body as
// responseContent, DELETED with none.
func succeeding(body string) *scripted {
	return &scripted{byOp: map[string]*authlete.Response{
		"register": {Action: authlete.ActionCreated, ResultCode: "A202001", ResponseContent: body},
		"get":      {Action: authlete.ActionOK, ResultCode: "A215001", ResponseContent: body},
		"update":   {Action: authlete.ActionUpdated, ResultCode: "A217001", ResponseContent: body},
		"delete":   {Action: authlete.ActionDeleted, ResultCode: "A218001"},
	}}
}

func (s *scripted) Register(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return s.answer(ctx, "register", req)
}

func (s *scripted) Get(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return s.answer(ctx, "get", req)
}

func (s *scripted) Update(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return s.answer(ctx, "update", req)
}

func (s *scripted) Delete(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return s.answer(ctx, "delete", req)
}

func (s *scripted) recorded() []call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]call(nil), s.calls...)
}

// backendFunc is a Backend that answers every call with f, told which
// call it is.
type backendFunc func(ctx context.Context, op string, req *authlete.Request) (*authlete.Response, error)

func (f backendFunc) Register(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return f(ctx, "register", req)
}

func (f backendFunc) Get(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return f(ctx, "get", req)
}

func (f backendFunc) Update(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return f(ctx, "update", req)
}

func (f backendFunc) Delete(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return f(ctx, "delete", req)
}
