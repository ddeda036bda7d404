package dcr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

const (
	clientID = "26837717140341"
	ratToken = "qs4Tu5TV7qqDYT93bFs6ISyhTByMF9o-54GY4JU5vTA"
	metadata = `{"client_name":"My Dynamic Client","redirect_uris":["http://127.0.0.1:33418/callback"]}`
	// content has bytes a re-encoding would change: escapes, non-ASCII,
	// key order, spacing.
	content = `{"client_id":"26837717140341", "client_name":"caf\u00e9 <&>","b":1,"a":2}` + "\n"
)

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

func TestActions(t *testing.T) {
	actions := []struct {
		action authlete.Action
		status int
		header http.Header
		body   string
	}{
		{authlete.ActionCreated, 201, noStore(), content},
		{authlete.ActionOK, 200, noStore(), content},
		{authlete.ActionUpdated, 200, noStore(), content},
		{authlete.ActionDeleted, 204, http.Header{"Cache-Control": {"no-store"}, "Pragma": {"no-cache"}}, ""},
		{authlete.ActionBadRequest, 400, noStore(), `{"error":"invalid_redirect_uri","error_description":"[A...] bad"}`},
		{authlete.ActionUnauthorized, 401, with(noStore(), "WWW-Authenticate", `Bearer error="invalid_token"`),
			`{"error":"invalid_token","error_description":"[A...] unknown token"}`},
		{authlete.ActionInternalServerError, 500, noStore(), `{"error":"server_error","error_description":"[A...] oops"}`},
	}
	for _, op := range operations {
		for _, a := range actions {
			t.Run(op.name+"/"+string(a.action), func(t *testing.T) {
				backend := &scripted{resp: &authlete.Response{ResultCode: "A000000", Action: a.action, ResponseContent: a.body}}
				if a.action == authlete.ActionDeleted {
					backend.resp.ResponseContent = "" // Authlete sends none
				}
				rec := httptest.NewRecorder()
				newRouter(dcr.New(backend, dcr.Options{})).ServeHTTP(rec, op.request())

				assert.Equal(t, a.status, rec.Code)
				assert.Equal(t, a.header, rec.Header())
				assert.Equal(t, a.body, rec.Body.String())
				assert.Equal(t, []call{op.want}, backend.recorded())
			})
		}
	}
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

func TestUnusableBackendAnswers(t *testing.T) {
	cases := []struct {
		name string
		resp *authlete.Response
	}{
		{"no response", nil},
		{"no action", &authlete.Response{ResultCode: "A1", ResponseContent: "{}"}},
		{"unknown action", &authlete.Response{Action: "REJECTED", ResponseContent: "{}"}},
		{"lowercase action", &authlete.Response{Action: "created", ResponseContent: "{}"}},
		{"CREATED without content", &authlete.Response{Action: authlete.ActionCreated}},
		{"BAD_REQUEST without content", &authlete.Response{Action: authlete.ActionBadRequest}},
	}
	for _, op := range operations {
		for _, tc := range cases {
			t.Run(op.name+"/"+tc.name, func(t *testing.T) {
				var seen error
				h := dcr.New(&scripted{resp: tc.resp}, dcr.Options{
					Logger: sinkLogger(t),
					ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
						seen = err
						dcr.DefaultErrorHandler(w, r, err)
					},
				})
				rec := httptest.NewRecorder()
				newRouter(h).ServeHTTP(rec, op.request())
				assert.Equal(t, 500, rec.Code)
				assert.Equal(t, noStore(), rec.Header())
				code, _ := errorBody(t, rec.Body.Bytes())
				assert.Equal(t, "server_error", code)
				assert.ErrorIs(t, seen, dcr.ErrBadBackendResponse)
			})
		}
	}
}

func TestBackendFailures(t *testing.T) {
	secretMessage := "[A001202] /client/registration, service 21653835348762 access token V5a40R6dWvw2 is wrong"
	cases := []struct {
		name   string
		err    error
		status int
		header http.Header
		code   string
	}{
		{"refused 401", &authlete.Error{Op: "x", StatusCode: 401, ResultCode: "A001202", ResultMessage: secretMessage}, 500, noStore(), "server_error"},
		{"refused 403", &authlete.Error{Op: "x", StatusCode: 403, ResultCode: "A001215", ResultMessage: secretMessage}, 500, noStore(), "server_error"},
		{"refused 500", &authlete.Error{Op: "x", StatusCode: 500, ResultCode: "A001101", ResultMessage: secretMessage}, 500, noStore(), "server_error"},
		{"rate limited", &authlete.Error{Op: "x", StatusCode: 429, RetryAfter: 1500 * time.Millisecond}, 503,
			with(noStore(), "Retry-After", "2"), "temporarily_unavailable"},
		{"unavailable", &authlete.Error{Op: "x", StatusCode: 503}, 503, noStore(), "temporarily_unavailable"},
		{"retry after an hour", &authlete.Error{Op: "x", StatusCode: 503, RetryAfter: time.Hour}, 503,
			with(noStore(), "Retry-After", "3600"), "temporarily_unavailable"},
		{"retry after a year", &authlete.Error{Op: "x", StatusCode: 429, RetryAfter: 365 * 24 * time.Hour}, 503,
			with(noStore(), "Retry-After", "3600"), "temporarily_unavailable"},
		{"retry after forever", &authlete.Error{Op: "x", StatusCode: 429, RetryAfter: math.MaxInt64}, 503,
			with(noStore(), "Retry-After", "3600"), "temporarily_unavailable"},
		{"timeout", &authlete.Error{Op: "x", Err: context.DeadlineExceeded}, 504, noStore(), "server_error"},
		{"malformed", &authlete.Error{Op: "x", StatusCode: 200, Err: authlete.ErrMalformedResponse}, 500, noStore(), "server_error"},
		{"other backend", errors.New("db: password=hunter2 " + ratToken), 500, noStore(), "server_error"},
	}
	for _, op := range operations {
		for _, tc := range cases {
			t.Run(op.name+"/"+tc.name, func(t *testing.T) {
				var logs bytes.Buffer
				var seen error
				h := dcr.New(&scripted{err: tc.err}, dcr.Options{
					Logger: sinkLogger(t, slog.NewJSONHandler(&logs, nil)),
					ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
						seen = err
						dcr.DefaultErrorHandler(w, r, err)
					},
				})
				rec := httptest.NewRecorder()
				newRouter(h).ServeHTTP(rec, op.request())

				assert.Equal(t, tc.status, rec.Code)
				assert.Equal(t, tc.header, rec.Header())
				code, desc := errorBody(t, rec.Body.Bytes())
				assert.Equal(t, tc.code, code)
				assert.NotContains(t, desc, tc.err.Error())
				assert.NotContains(t, rec.Body.String(), "A001")
				assert.NotContains(t, rec.Body.String(), "hunter2")
				assert.Same(t, tc.err, seen)
				assert.Contains(t, logs.String(), `"level":"ERROR"`)
				assert.Contains(t, logs.String(), `"op":"`+op.want.op+`"`)
				assert.NotContains(t, logs.String(), ratToken)
			})
		}
	}
}

// TestRetryAfterFarFutureIsClamped protects OAuth clients from a negative
// or absurd Retry-After when Authlete answers 429 with a date in the year
// 9999: over real HTTP, through the Authlete client's parsing.
func TestRetryAfterFarFutureIsClamped(t *testing.T) {
	authleteSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"resultCode":"A001106","resultMessage":"Too many requests."}`)
	}))
	defer authleteSrv.Close()
	client, err := authlete.New(authlete.Config{BaseURL: authleteSrv.URL, ServiceAPIKey: "1", ServiceAccessToken: "sat"})
	require.NoError(t, err)
	h := newRouter(dcr.New(client, dcr.Options{Logger: sinkLogger(t)}))
	for _, op := range operations {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, op.request())
		assert.Equal(t, 503, rec.Code, op.name)
		assert.Equal(t, "3600", rec.Header().Get("Retry-After"), op.name)
	}
}

func TestErrorHandlerWritesResponse(t *testing.T) {
	h := dcr.New(&scripted{err: errors.New("down")}, dcr.Options{
		Logger: sinkLogger(t),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, `{"error":"server_error","error_description":"custom"}`)
		},
	})
	rec := httptest.NewRecorder()
	newRouter(h).ServeHTTP(rec, operations[0].request())
	assert.Equal(t, http.StatusBadGateway, rec.Code)
	assert.Equal(t, `{"error":"server_error","error_description":"custom"}`, rec.Body.String())
}

func TestLocalErrors(t *testing.T) {
	long := strings.Repeat("1", 1025)
	big := `{"client_name":"` + strings.Repeat("x", dcr.DefaultMaxBodyBytes) + `"}`
	cases := []struct {
		name    string
		method  string
		path    string
		headers []string // name, value pairs; added, so names may repeat
		body    io.Reader
		status  int
		header  http.Header
		code    string
	}{
		{"GET on registration", "GET", "/register", nil, nil, 405, with(noStore(), "Allow", "POST"), "invalid_request"},
		{"DELETE on registration", "DELETE", "/register", nil, nil, 405, with(noStore(), "Allow", "POST"), "invalid_request"},
		{"POST on configuration", "POST", "/register/1", []string{"Authorization", "Bearer t"}, strings.NewReader("{}"),
			405, with(noStore(), "Allow", "GET, PUT, DELETE"), "invalid_request"},
		{"PATCH on configuration", "PATCH", "/register/1", nil, nil, 405, with(noStore(), "Allow", "GET, PUT, DELETE"), "invalid_request"},
		{"HEAD on configuration", "HEAD", "/register/1", nil, nil, 405, with(noStore(), "Allow", "GET, PUT, DELETE"), "invalid_request"},

		{"GET without token", "GET", "/register/1", nil, nil, 401, with(noStore(), "WWW-Authenticate", "Bearer"), "invalid_token"},
		{"DELETE without token", "DELETE", "/register/1", nil, nil, 401, with(noStore(), "WWW-Authenticate", "Bearer"), "invalid_token"},
		{"PUT without token", "PUT", "/register/1", []string{"Content-Type", "application/json"}, strings.NewReader("{}"),
			401, with(noStore(), "WWW-Authenticate", "Bearer"), "invalid_token"},
		{"token in query only", "GET", "/register/1?access_token=" + ratToken, nil, nil, 401, with(noStore(), "WWW-Authenticate", "Bearer"), "invalid_token"},
		{"empty Authorization", "GET", "/register/1", []string{"Authorization", ""}, nil, 401, with(noStore(), "WWW-Authenticate", "Bearer"), "invalid_token"},

		{"Basic credentials", "GET", "/register/1", []string{"Authorization", "Basic dXNlcjpwYXNz"}, nil,
			400, with(noStore(), "WWW-Authenticate", `Bearer error="invalid_request"`), "invalid_request"},
		{"empty bearer token", "GET", "/register/1", []string{"Authorization", "Bearer "}, nil,
			400, with(noStore(), "WWW-Authenticate", `Bearer error="invalid_request"`), "invalid_request"},
		{"two Authorization headers", "GET", "/register/1", []string{"Authorization", "Bearer a", "Authorization", "Bearer b"}, nil,
			400, with(noStore(), "WWW-Authenticate", `Bearer error="invalid_request"`), "invalid_request"},

		{"client ID too long", "GET", "/register/" + long, []string{"Authorization", "Bearer t"}, nil, 400, noStore(), "invalid_request"},
		{"client ID with space", "GET", "/register/a%20b", []string{"Authorization", "Bearer t"}, nil, 400, noStore(), "invalid_request"},
		{"client ID blank", "DELETE", "/register/%20", []string{"Authorization", "Bearer t"}, nil, 400, noStore(), "invalid_request"},
		{"client ID control character", "GET", "/register/a%00b", []string{"Authorization", "Bearer t"}, nil, 400, noStore(), "invalid_request"},
		{"client ID not ASCII", "GET", "/register/%C3%A9", []string{"Authorization", "Bearer t"}, nil, 400, noStore(), "invalid_request"},

		{"no Content-Type", "POST", "/register", nil, strings.NewReader("{}"), 415, noStore(), "invalid_request"},
		{"form Content-Type", "POST", "/register", []string{"Content-Type", "application/x-www-form-urlencoded"},
			strings.NewReader("client_name=x"), 415, noStore(), "invalid_request"},
		{"text Content-Type on PUT", "PUT", "/register/1", []string{"Authorization", "Bearer t", "Content-Type", "text/plain"},
			strings.NewReader("{}"), 415, noStore(), "invalid_request"},

		{"body too large", "POST", "/register", []string{"Content-Type", "application/json"}, strings.NewReader(big), 413, noStore(), "invalid_request"},
		{"body too large, length unknown", "POST", "/register", []string{"Content-Type", "application/json"},
			io.MultiReader(strings.NewReader(big)), 413, noStore(), "invalid_request"},
		{"PUT body too large", "PUT", "/register/1", []string{"Authorization", "Bearer t", "Content-Type", "application/json"},
			strings.NewReader(big), 413, noStore(), "invalid_request"},

		{"empty body", "POST", "/register", []string{"Content-Type", "application/json"}, strings.NewReader(""), 400, noStore(), "invalid_client_metadata"},
		{"array body", "POST", "/register", []string{"Content-Type", "application/json"}, strings.NewReader("[{}]"), 400, noStore(), "invalid_client_metadata"},
		{"string body", "POST", "/register", []string{"Content-Type", "application/json"}, strings.NewReader(`"{}"`), 400, noStore(), "invalid_client_metadata"},
		{"null body", "POST", "/register", []string{"Content-Type", "application/json"}, strings.NewReader(`null`), 400, noStore(), "invalid_client_metadata"},
		{"truncated object", "POST", "/register", []string{"Content-Type", "application/json"}, strings.NewReader(`{"a":`), 400, noStore(), "invalid_client_metadata"},
		{"two objects", "POST", "/register", []string{"Content-Type", "application/json"}, strings.NewReader(`{}{}`), 400, noStore(), "invalid_client_metadata"},
		{"PUT not an object", "PUT", "/register/1", []string{"Authorization", "Bearer t", "Content-Type", "application/json"},
			strings.NewReader(`client_id=1`), 400, noStore(), "invalid_client_metadata"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			backend := &scripted{resp: &authlete.Response{Action: authlete.ActionOK, ResponseContent: "{}"}}
			r := httptest.NewRequest(tc.method, tc.path, tc.body)
			for i := 0; i < len(tc.headers); i += 2 {
				r.Header.Add(tc.headers[i], tc.headers[i+1])
			}
			rec := httptest.NewRecorder()
			newRouter(dcr.New(backend, dcr.Options{})).ServeHTTP(rec, r)

			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.header, rec.Header())
			if tc.method != "HEAD" {
				code, desc := errorBody(t, rec.Body.Bytes())
				assert.Equal(t, tc.code, code)
				assert.NotEmpty(t, desc)
			}
			assert.Empty(t, backend.recorded(), "the backend must not be called")
		})
	}
}

func TestBodyAccepted(t *testing.T) {
	cases := []struct{ name, contentType, body string }{
		{"charset", "application/json; charset=utf-8", metadata},
		{"upper case", "Application/JSON", metadata},
		{"leading white space", "application/json", " \n\t" + metadata},
		{"unknown members", "application/json", `{"resource":"https://mcp.example.com","scope":"","x":{"y":[1]}}`},
		{"exactly at the limit", "application/json", `{"a":"` + strings.Repeat("x", dcr.MaxMetadataStringBytes) + `"}` +
			strings.Repeat(" ", dcr.DefaultMaxBodyBytes-dcr.MaxMetadataStringBytes-8)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
			r := httptest.NewRequest("POST", "/register", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.contentType)
			rec := httptest.NewRecorder()
			newRouter(dcr.New(backend, dcr.Options{})).ServeHTTP(rec, r)
			assert.Equal(t, 201, rec.Code)
			assert.Equal(t, []call{{"register", authlete.Request{JSON: tc.body}}}, backend.recorded())
		})
	}
}

// TestMetadataShapeLimits: client metadata nested deeper than
// MaxMetadataDepth, or with a string (a value or a member name) longer
// than MaxMetadataStringBytes as sent, is refused with 400
// invalid_client_metadata before any policy or Authlete sees it, on
// registration and update; metadata at the limits passes.
func TestMetadataShapeLimits(t *testing.T) {
	nested := func(depth int) string { // the body itself is level 1
		return `{"a":` + strings.Repeat("[", depth-2) + `{}` + strings.Repeat("]", depth-2) + `}`
	}
	long := strings.Repeat("x", dcr.MaxMetadataStringBytes)
	deep := `{"error":"invalid_client_metadata","error_description":"The client metadata is nested more than 32 levels deep."}`
	tooLong := `{"error":"invalid_client_metadata","error_description":"A string of the client metadata is longer than 8192 bytes."}`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"32 levels", nested(32), ""},
		{"33 levels", nested(33), deep},
		{"9,990 levels", `{"a":` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `}`, deep},
		{"brackets in strings do not count", `{"a":"` + strings.Repeat("[", 100) + `","b":"\"[{"}`, ""},
		{"a string at the limit", `{"scope":"` + long + `"}`, ""},
		{"a string over the limit", `{"scope":"` + long + `x"}`, tooLong},
		{"escapes count as sent", `{"scope":"` + long[1:] + `\""}`, tooLong},
		{"a member name over the limit", `{"` + long + `x":1}`, tooLong},
		{"a string in an array", `{"redirect_uris":["https://a.example/` + long + `"]}`, tooLong},
	} {
		for _, method := range []string{"POST", "PUT"} {
			t.Run(tc.name+" "+method, func(t *testing.T) {
				ran := false
				backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
				h := newRouter(dcr.New(backend, dcr.Options{Policies: []dcr.Policy{func(*http.Request, dcr.Metadata) error { ran = true; return nil }}}))
				path := map[string]string{"POST": "/register", "PUT": "/register/" + clientID}[method]
				rec := send(h, method, path, "Bearer "+ratToken, tc.body)
				if tc.want == "" {
					assert.True(t, ran, "the policy ran")
					assert.Len(t, backend.recorded(), 1)
					return
				}
				assert.Equal(t, 400, rec.Code)
				assert.JSONEq(t, tc.want, rec.Body.String())
				assert.False(t, ran, "no policy ran")
				assert.Empty(t, backend.recorded())
			})
		}
	}
}

func TestMaxBodyBytes(t *testing.T) {
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
	h := newRouter(dcr.New(backend, dcr.Options{MaxBodyBytes: 16}))
	for body, want := range map[string]int{`{"a":"12345678"}`: 201, `{"a":"123456789"}`: 413} {
		r := httptest.NewRequest("POST", "/register", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		assert.Equal(t, want, rec.Code, "body %s", body)
	}
}

func TestTokenPassedThrough(t *testing.T) {
	cases := []struct{ name, authorization, want string }{
		{"registration access token", "Bearer rat-123", "rat-123"},
		{"lower case scheme", "bearer rat-123", "rat-123"},
		{"mixed case scheme", "bEaReR rat-123", "rat-123"},
		{"extra spaces", "Bearer    rat-123   ", "rat-123"},
		{"b64token padding", "Bearer abc/+~._-==", "abc/+~._-=="},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			backend := &scripted{resp: &authlete.Response{Action: authlete.ActionOK, ResponseContent: content}}
			r := httptest.NewRequest("GET", "/register/4711", nil)
			r.Header.Set("Authorization", tc.authorization)
			rec := httptest.NewRecorder()
			newRouter(dcr.New(backend, dcr.Options{})).ServeHTTP(rec, r)
			require.Equal(t, 200, rec.Code)
			assert.Equal(t, []call{{"get", authlete.Request{ClientID: "4711", Token: tc.want}}}, backend.recorded())
		})
	}
}

// TestInitialAccessTokenNotForwarded protects the initial access token
// from going where it is not needed: the handler checks it, and Authlete
// ignores a token on registration.
func TestInitialAccessTokenNotForwarded(t *testing.T) {
	for _, opts := range []dcr.Options{{}, {InitialAccessToken: mustStaticTokens(t, "iat-12345678")}} {
		backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
		rec := send(newRouter(dcr.New(backend, opts)), "POST", "/register", "Bearer iat-12345678", "{}")
		require.Equal(t, 201, rec.Code)
		assert.Equal(t, []call{{"register", authlete.Request{JSON: "{}"}}}, backend.recorded())
	}
}

func TestBearerToken(t *testing.T) {
	cases := []struct {
		name    string
		headers []string
		want    string
		wantErr bool
	}{
		{"none", nil, "", false},
		{"empty header", []string{""}, "", false},
		{"bearer", []string{"Bearer abc"}, "abc", false},
		{"case-insensitive scheme", []string{"BEARER abc"}, "abc", false},
		{"spaces", []string{"  Bearer   abc  "}, "abc", false},
		{"padding", []string{"Bearer YWJj=="}, "YWJj==", false},
		{"scheme only", []string{"Bearer"}, "", true},
		{"empty token", []string{"Bearer    "}, "", true},
		{"two headers", []string{"Bearer a", "Bearer a"}, "", true},
		{"two tokens", []string{"Bearer a b"}, "", true},
		{"comma list", []string{"Bearer a, Basic b"}, "", true},
		{"tab separator", []string{"Bearer\tabc"}, "", true},
		{"no separator", []string{"Bearerabc"}, "", true},
		{"padding only", []string{"Bearer =="}, "", true},
		{"padding inside", []string{"Bearer a=b"}, "", true},
		{"quotes", []string{`Bearer "abc"`}, "", true},
		{"basic", []string{"Basic YTpi"}, "", true},
		{"dpop", []string{"DPoP abc"}, "", true},
		{"non-ASCII", []string{"Bearer abcé"}, "", true},
		{"8 KiB", []string{"Bearer " + strings.Repeat("a", 8<<10)}, strings.Repeat("a", 8<<10), false},
		// The edges of each character range of b64token, and their neighbours.
		{"range edges", []string{"Bearer 09azAZ-._~+/"}, "09azAZ-._~+/", false},
		{"':' after '9'", []string{"Bearer 9:"}, "", true},
		{"'/' before '0' is allowed", []string{"Bearer /0"}, "/0", false},
		{"'@' before 'A'", []string{"Bearer @A"}, "", true},
		{"'[' after 'Z'", []string{"Bearer Z["}, "", true},
		{"'`' before 'a'", []string{"Bearer `a"}, "", true},
		{"'{' after 'z'", []string{"Bearer z{"}, "", true},
		{"',' between '+' and '-'", []string{"Bearer a,b"}, "", true},
		{"over 8 KiB", []string{"Bearer " + strings.Repeat("a", 8<<10+1)}, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/register/1?access_token=query", nil)
			for _, v := range tc.headers {
				r.Header.Add("Authorization", v)
			}
			got, err := dcr.BearerToken(r)
			if tc.wantErr {
				assert.ErrorIs(t, err, dcr.ErrMalformedAuthorization)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCustomExtractors(t *testing.T) {
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionOK, ResponseContent: content}}
	h := dcr.New(backend, dcr.Options{
		ClientID: func(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/clients/") },
		Token:    func(r *http.Request) (string, error) { return r.Header.Get("X-Registration-Token"), nil },
	})
	r := httptest.NewRequest("GET", "/clients/abc", nil)
	r.Header.Set("X-Registration-Token", "tok")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, []call{{"get", authlete.Request{ClientID: "abc", Token: "tok"}}}, backend.recorded())
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
}

func TestMount(t *testing.T) {
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			backend := &scripted{resp: &authlete.Response{Action: authlete.ActionOK, ResponseContent: content}}
			srv := httptest.NewServer(rt.mount(dcr.New(backend, dcr.Options{})))
			defer srv.Close()
			prefix := srv.URL
			if rt.name == "chi subrouter" || rt.name == "ServeMux nested with StripPrefix" {
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
				assert.Equal(t, 200, resp.StatusCode, op.name)
				assert.Equal(t, content, string(body))
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

func TestMountRejectsEmptyPath(t *testing.T) {
	assert.Panics(t, func() { dcr.Mount(http.NewServeMux(), "", http.NotFoundHandler()) })
}

// TestMountAtRootOfServeMux: "/" on a ServeMux is the root only, not
// every path.
func TestMountAtRootOfServeMux(t *testing.T) {
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
	mux := http.NewServeMux()
	dcr.Mount(mux, "/", dcr.New(backend, dcr.Options{}))
	assert.Equal(t, 201, send(mux, "POST", "/", "", `{}`).Code)
	assert.Equal(t, 404, send(mux, "POST", "/a/b", "", `{}`).Code)
}

func TestNewRejectsNilBackend(t *testing.T) {
	assert.Panics(t, func() { dcr.New(nil, dcr.Options{}) })
}

// requireInitialToken is an application's middleware that protects
// registration with an initial access token, and leaves client
// configuration to the registration access token.
func requireInitialToken(want string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.PathValue("client_id") == "" {
				if tok, err := dcr.BearerToken(r); err != nil || tok != want {
					w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
					http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestWrappedInMiddleware(t *testing.T) {
	for _, rt := range routers[:2] {
		t.Run(rt.name, func(t *testing.T) {
			backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
			h := rt.mount(requireInitialToken("iat-1")(dcr.New(backend, dcr.Options{})))
			cases := []struct {
				method, path, authorization string
				status                      int
			}{
				{"POST", "/register", "", 401},
				{"POST", "/register", "Bearer wrong", 401},
				{"POST", "/register", "Bearer iat-1", 201},
				{"GET", "/register/" + clientID, "Bearer " + ratToken, 201},
			}
			for _, tc := range cases {
				r := httptest.NewRequest(tc.method, tc.path, strings.NewReader("{}"))
				r.Header.Set("Content-Type", "application/json")
				if tc.authorization != "" {
					r.Header.Set("Authorization", tc.authorization)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				assert.Equal(t, tc.status, rec.Code, "%s %s %s", tc.method, tc.path, tc.authorization)
			}
			assert.Equal(t, []call{
				{"register", authlete.Request{JSON: "{}"}},
				{"get", authlete.Request{ClientID: clientID, Token: ratToken}},
			}, backend.recorded())
		})
	}
}

// actionOf is the action of each call's success.
var actionOf = map[string]authlete.Action{"register": authlete.ActionCreated, "get": authlete.ActionOK,
	"update": authlete.ActionUpdated, "delete": authlete.ActionDeleted}

// TestClientDisconnectDoesNotCancelBackendCall: each of the four calls
// runs to its end when the client hangs up in the middle, bounded by
// Options.BackendTimeout, and its outcome reaches Audit.
func TestClientDisconnectDoesNotCancelBackendCall(t *testing.T) {
	for _, op := range operations {
		t.Run(op.name, func(t *testing.T) {
			started, hungUp := make(chan struct{}), make(chan struct{})
			backend := backendFunc(func(ctx context.Context, name string, _ *authlete.Request) (*authlete.Response, error) {
				close(started)
				<-hungUp
				if _, ok := ctx.Deadline(); !ok {
					return nil, errors.New("the call has no deadline")
				}
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(50 * time.Millisecond): // Authlete answers after the client has gone
				}
				return &authlete.Response{Action: actionOf[name], ResponseContent: `{"client_id":"1"}`}, nil
			})
			events := make(chan dcr.Event, 1)
			srv := httptest.NewServer(newRouter(dcr.New(backend, dcr.Options{
				Logger: sinkLogger(t),
				Audit:  func(_ context.Context, e dcr.Event) { events <- e },
			})))
			defer srv.Close()
			req := op.request()
			ctx, cancel := context.WithCancel(context.Background())
			req = req.WithContext(ctx)
			req.URL, _ = url.Parse(srv.URL + req.URL.Path)
			req.RequestURI = ""
			go func() { <-started; cancel() }()
			_, err := srv.Client().Do(req)
			require.Error(t, err)
			close(hungUp)
			select {
			case e := <-events:
				assert.Equal(t, actionOf[op.name], e.Action, "%+v", e)
				assert.NoError(t, e.Err)
			case <-time.After(10 * time.Second):
				t.Fatal("no audit event")
			}
		})
	}
}

// TestBackendTimeout: Options.BackendTimeout bounds a Backend call that
// never ends; zero means authlete.DefaultTotalTimeout.
func TestBackendTimeout(t *testing.T) {
	var deadline time.Duration
	backend := backendFunc(func(ctx context.Context, op string, _ *authlete.Request) (*authlete.Response, error) {
		d, _ := ctx.Deadline()
		deadline = time.Until(d)
		<-ctx.Done()
		return nil, &authlete.Error{Op: op, Err: ctx.Err()}
	})
	rec := send(newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t), BackendTimeout: 30 * time.Millisecond})), "GET", "/register/1", "Bearer "+ratToken, "")
	assert.Equal(t, 504, rec.Code)
	assert.LessOrEqual(t, deadline, 30*time.Millisecond)

	backend = backendFunc(func(ctx context.Context, op string, _ *authlete.Request) (*authlete.Response, error) {
		d, ok := ctx.Deadline()
		require.True(t, ok)
		deadline = time.Until(d)
		return &authlete.Response{Action: authlete.ActionOK, ResponseContent: "{}"}, nil
	})
	send(newRouter(dcr.New(backend, dcr.Options{})), "GET", "/register/1", "Bearer "+ratToken, "")
	assert.Greater(t, deadline, authlete.DefaultTotalTimeout-time.Second)
	assert.LessOrEqual(t, deadline, authlete.DefaultTotalTimeout)
}

// TestOpenRegistrationIgnoresOtherCredentials: an application's own auth
// middleware (Basic, an API key scheme) in front of open registration
// leaves its Authorization header; the handler ignores it then, and sends
// no token to Authlete. With initial access tokens, such a header is
// still refused, and so it is on client configuration requests.
func TestOpenRegistrationIgnoresOtherCredentials(t *testing.T) {
	for _, auth := range []string{"Basic dXNlcjpwYXNzd29yZA==", "ApiKey k-123", "Bearer a b", "Bearer"} {
		t.Run(auth, func(t *testing.T) {
			backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: `{"client_id":"1"}`}}
			rec := send(newRouter(dcr.New(backend, dcr.Options{})), "POST", "/register", auth, `{}`)
			assert.Equal(t, 201, rec.Code, rec.Body.String())
			if calls := backend.recorded(); assert.Len(t, calls, 1) {
				assert.Empty(t, calls[0].req.Token)
			}

			iat := dcr.New(backend, dcr.Options{InitialAccessToken: func(context.Context, string) error { return nil }})
			rec = send(newRouter(iat), "POST", "/register", auth, `{}`)
			assert.Equal(t, 400, rec.Code, "with initial access tokens")

			rec = send(newRouter(dcr.New(backend, dcr.Options{})), "GET", "/register/1", auth, "")
			assert.Equal(t, 400, rec.Code, "client configuration")
			assert.Len(t, backend.recorded(), 1, "no further call")
		})
	}
}

// TestInitialAccessTokenVerifierFailure: a verifier whose store fails is
// not a refusal: the error handler answers, and Authlete is not called.
func TestInitialAccessTokenVerifierFailure(t *testing.T) {
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: `{}`}}
	var handled error
	h := dcr.New(backend, dcr.Options{
		Logger: sinkLogger(t),
		InitialAccessToken: func(context.Context, string) error {
			return fmt.Errorf("redis: %w: connection refused", dcr.ErrVerifierFailed)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			handled = err
			dcr.DefaultErrorHandler(w, r, err)
		},
	})
	rec := send(newRouter(h), "POST", "/register", "Bearer iat-0123456789abcdef", `{}`)
	assert.Equal(t, 500, rec.Code)
	assert.ErrorIs(t, handled, dcr.ErrVerifierFailed)
	assert.Empty(t, backend.recorded())
}

// TestRefundInitialAccessToken: the refund hook is called for a
// registration that certainly created no client, and only then: each
// outcome where Authlete may have created one keeps the use.
func TestRefundInitialAccessToken(t *testing.T) {
	created := &authlete.Response{Action: authlete.ActionCreated, ResponseContent: `{"client_id":"1"}`}
	for _, tc := range []struct {
		name   string
		resp   *authlete.Response
		err    error
		body   string
		refund bool
	}{
		{"created", created, nil, `{}`, false},
		{"created, answer unusable", &authlete.Response{Action: authlete.ActionCreated}, nil, `{}`, false},
		{"refused by Authlete", &authlete.Response{Action: authlete.ActionBadRequest, ResponseContent: `{"error":"invalid_client_metadata"}`}, nil, `{}`, true},
		{"refused by Authlete, answer unusable", &authlete.Response{Action: authlete.ActionBadRequest}, nil, `{}`, true},
		{"call refused: 429", nil, &authlete.Error{Op: "register", StatusCode: 429, ResultCode: "A001106"}, `{}`, true},
		{"call refused: 400", nil, &authlete.Error{Op: "register", StatusCode: 400, ResultCode: "A001201"}, `{}`, true},
		{"call refused: 401", nil, &authlete.Error{Op: "register", StatusCode: 401, ResultCode: "A001202"}, `{}`, true},
		{"refused by a policy", created, nil, `{"reject":true}`, true},
		{"a policy failed", created, nil, `{"fail":true}`, true},
		{"not JSON", created, nil, `[`, true},
		{"not an object", created, nil, `"x"`, true},
		{"INTERNAL_SERVER_ERROR", &authlete.Response{Action: authlete.ActionInternalServerError, ResponseContent: `{"error":"server_error"}`}, nil, `{}`, false},
		{"an unknown action", &authlete.Response{Action: "FOUND"}, nil, `{}`, false},
		{"no answer", nil, nil, `{}`, false},
		{"Authlete failed: HTTP 500", nil, &authlete.Error{Op: "register", StatusCode: 500, ResultCode: "A001101"}, `{}`, false},
		{"Authlete failed: HTTP 503", nil, &authlete.Error{Op: "register", StatusCode: 503}, `{}`, false},
		{"a 4xx answer that could not be read", nil, &authlete.Error{Op: "register", StatusCode: 400, Err: authlete.ErrResponseTooLarge}, `{}`, false},
		{"unreadable answer", nil, &authlete.Error{Op: "register", StatusCode: 200, Err: authlete.ErrMalformedResponse}, `{}`, false},
		{"timeout", nil, &authlete.Error{Op: "register", Err: context.DeadlineExceeded}, `{}`, false},
		{"cancelled", nil, &authlete.Error{Op: "register", Err: context.Canceled}, `{}`, false},
		{"transport", nil, &authlete.Error{Op: "register", Err: errors.New("connection reset by peer")}, `{}`, false},
		{"a decorator's own failure", nil, errors.New("down"), `{}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var refunded []string
			backend := &scripted{resp: tc.resp, err: tc.err}
			h := dcr.New(backend, dcr.Options{
				Logger:                   sinkLogger(t),
				InitialAccessToken:       func(context.Context, string) error { return nil },
				RefundInitialAccessToken: func(_ context.Context, token string) { refunded = append(refunded, token) },
				Policies: []dcr.Policy{func(_ *http.Request, m dcr.Metadata) error {
					switch {
					case m["reject"] != nil:
						return dcr.Reject(dcr.InvalidClientMetadata, "no")
					case m["fail"] != nil:
						return errors.New("the policy's store is down")
					}
					return nil
				}},
			})
			send(newRouter(h), "POST", "/register", "Bearer iat-0123456789abcdef", tc.body)
			if tc.refund {
				assert.Equal(t, []string{"iat-0123456789abcdef"}, refunded)
			} else {
				assert.Empty(t, refunded)
			}
		})
	}
}

// TestPanickingBackendKeepsTheUse: a Backend that panics may have created
// a client before it did; the use stays spent while the panic goes on up.
func TestPanickingBackendKeepsTheUse(t *testing.T) {
	refunded := false
	backend := backendFunc(func(context.Context, string, *authlete.Request) (*authlete.Response, error) { panic("decorator bug") })
	h := newRouter(dcr.New(backend, dcr.Options{
		Logger:                   sinkLogger(t),
		InitialAccessToken:       func(context.Context, string) error { return nil },
		RefundInitialAccessToken: func(context.Context, string) { refunded = true },
	}))
	assert.PanicsWithValue(t, "decorator bug", func() { send(h, "POST", "/register", "Bearer iat-0123456789abcdef", `{}`) })
	assert.False(t, refunded)
}
