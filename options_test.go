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
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
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

func TestInitialAccessToken(t *testing.T) {
	var logs bytes.Buffer
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
	h := newRouter(dcr.New(backend, dcr.Options{
		Logger: sinkLogger(t, slog.NewJSONHandler(&logs, nil)),
		InitialAccessToken: func(ctx context.Context, token string) error {
			if token != "iat-good" {
				return fmt.Errorf("unknown token %s", token) // a careless verifier
			}
			return nil
		},
	}))
	cases := []struct {
		name, authorization string
		status              int
		challenge           string
	}{
		{"no token", "", 401, "Bearer"},
		{"wrong token", "Bearer iat-wrong-123456", 401, `Bearer error="invalid_token"`},
		{"malformed header", "Basic eDp5", 400, `Bearer error="invalid_request"`},
		{"good token", "Bearer iat-good", 201, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := send(h, "POST", "/register", tc.authorization, `{}`)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.challenge, rec.Header().Get("WWW-Authenticate"))
			if tc.status != 201 {
				code, _ := errorBody(t, rec.Body.Bytes())
				assert.Contains(t, []string{"invalid_token", "invalid_request"}, code)
			}
		})
	}
	assert.Equal(t, []call{{"register", authlete.Request{JSON: "{}"}}}, backend.recorded(),
		"only the good token reaches Authlete")
	assert.NotContains(t, logs.String(), "iat-wrong-123456")

	// Client configuration uses the registration access token only.
	rec := send(h, "GET", "/register/1", "Bearer "+ratToken, "")
	assert.Equal(t, 201, rec.Code)
}

func TestStaticTokens(t *testing.T) {
	verify := mustStaticTokens(t, "alpha", "beta")
	ctx := context.Background()
	for token, ok := range map[string]bool{"alpha": true, "beta": true, "": false, "alph": false, "alphaa": false, "gamma": false} {
		assert.Equal(t, ok, verify(ctx, token) == nil, "token %q", token)
	}
}

// TestStaticTokensRefusesTokensNoClientCanPresent protects operators from
// an initial access token that BearerToken would never return: every
// registration would be refused.
func TestStaticTokensRefusesTokensNoClientCanPresent(t *testing.T) {
	const rule = "RFC 6750 b64token"
	for _, tc := range []struct {
		tokens []string
		want   string
	}{
		{nil, "at least one"},
		{[]string{"s3cr3t!"}, `token 1 of 1 has a character that a bearer token cannot hold, "!" at byte 7`},
		{[]string{"good", "s3cr3t\n"}, `token 2 of 2 has a character that a bearer token cannot hold, "\n" at byte 7`},
		{[]string{"s3cr3t\n"}, `"\n" at byte 7`},
		{[]string{"a b"}, `" " at byte 2`},
		{[]string{"ab=c"}, `"=" at byte 3`},
		{[]string{""}, "token 1 of 1 is empty"},
		{[]string{strings.Repeat("a", 8<<10+1)}, "is 8193 bytes long"},
	} {
		verify, err := dcr.StaticTokens(tc.tokens...)
		assert.Nil(t, verify, "%q", tc.tokens)
		require.Error(t, err, "%q", tc.tokens)
		assert.Contains(t, err.Error(), tc.want)
		if len(tc.tokens) > 0 {
			assert.Contains(t, err.Error(), rule, "the error names the rule")
		}
	}
	// The edges of what is accepted: the longest token, padding, every
	// special character.
	_, err := dcr.StaticTokens(strings.Repeat("a", 8<<10), "a-._~+/==", "Z9")
	assert.NoError(t, err)
}

// mustStaticTokens is dcr.StaticTokens for tokens known to be good.
func mustStaticTokens(t *testing.T, tokens ...string) func(context.Context, string) error {
	t.Helper()
	verify, err := dcr.StaticTokens(tokens...)
	require.NoError(t, err)
	return verify
}

func TestPolicies(t *testing.T) {
	var seen []string
	record := func(r *http.Request, m dcr.Metadata) error {
		seen = append(seen, r.Method)
		return nil
	}
	rejectEvil := func(r *http.Request, m dcr.Metadata) error {
		if name, _ := m.String("client_name"); name == "evil" {
			return dcr.Reject(dcr.InvalidClientMetadata, "No evil clients.")
		}
		return nil
	}
	stamp := func(r *http.Request, m dcr.Metadata) error {
		m["software_id"] = "stamped"
		delete(m, "logo_uri")
		return nil
	}
	fails := func(r *http.Request, m dcr.Metadata) error {
		if _, ok := m["explode"]; ok {
			return errors.New("policy store unreachable")
		}
		return nil
	}
	var hookErr error
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionOK, ResponseContent: content}}
	h := newRouter(dcr.New(backend, dcr.Options{
		Logger:   sinkLogger(t),
		Policies: []dcr.Policy{record, rejectEvil, stamp, fails},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			hookErr = err
			dcr.DefaultErrorHandler(w, r, err)
		},
	}))

	rec := send(h, "POST", "/register", "", `{"client_name":"evil","logo_uri":"https://x"}`)
	assert.Equal(t, 400, rec.Code)
	assert.Equal(t, noStore(), rec.Header())
	assert.JSONEq(t, `{"error":"invalid_client_metadata","error_description":"No evil clients."}`, rec.Body.String())
	assert.Empty(t, backend.recorded(), "a rejected registration never reaches Authlete")

	rec = send(h, "POST", "/register", "", `{"client_name":"<ok>","logo_uri":"https://x","big":12345678901234567890123,"f":1.50}`)
	assert.Equal(t, 200, rec.Code)
	require.Len(t, backend.recorded(), 1)
	assert.JSONEq(t, `{"client_name":"<ok>","software_id":"stamped","big":12345678901234567890123,"f":1.50}`, backend.recorded()[0].req.JSON)
	assert.Contains(t, backend.recorded()[0].req.JSON, `12345678901234567890123`, "numbers keep their digits")
	assert.Contains(t, backend.recorded()[0].req.JSON, `"<ok>"`, "no HTML escaping")

	rec = send(h, "PUT", "/register/1", "Bearer t", `{"client_id":"1","client_name":"evil"}`)
	assert.Equal(t, 400, rec.Code, "policies run on update")
	send(h, "GET", "/register/1", "Bearer t", "")
	send(h, "DELETE", "/register/1", "Bearer t", "")
	assert.Equal(t, []string{"POST", "POST", "PUT"}, seen, "and only on register and update")

	rec = send(h, "POST", "/register", "", `{"explode":true}`)
	assert.Equal(t, 500, rec.Code)
	assert.NotContains(t, rec.Body.String(), "unreachable")
	assert.EqualError(t, hookErr, "policy store unreachable")
}

func TestMetadataAccessors(t *testing.T) {
	m := dcr.Metadata{"s": "x", "a": []any{"p", "q"}, "mixed": []any{"p", 1.0}, "n": 1.0}
	s, ok := m.String("s")
	assert.True(t, ok)
	assert.Equal(t, "x", s)
	_, ok = m.String("n")
	assert.False(t, ok)
	a, ok := m.Strings("a")
	assert.True(t, ok)
	assert.Equal(t, []string{"p", "q"}, a)
	_, ok = m.Strings("mixed")
	assert.False(t, ok)
	_, ok = m.Strings("missing")
	assert.False(t, ok)
}

func TestAudit(t *testing.T) {
	var mu sync.Mutex
	var events []dcr.Event
	created := `{"client_id":"4711","client_secret":"s3cr3t-value","registration_access_token":"` + ratToken + `"}`
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResultCode: "A202001", ResponseContent: created}}
	opts := dcr.Options{
		Logger: sinkLogger(t),
		Policies: []dcr.Policy{func(r *http.Request, m dcr.Metadata) error {
			if _, ok := m["reject"]; ok {
				return dcr.Reject(dcr.InvalidRedirectURI, "no")
			}
			return nil
		}},
		Audit: func(_ context.Context, e dcr.Event) { mu.Lock(); events = append(events, e); mu.Unlock() },
	}
	h := newRouter(dcr.New(backend, opts))

	send(h, "POST", "/register", "Bearer iat-123456789", `{}`)
	send(h, "GET", "/register/4711", "", "")
	send(h, "PATCH", "/register/4711", "", "")
	send(h, "POST", "/register", "", `{"reject":1}`)
	backend.resp = &authlete.Response{Action: authlete.ActionUnauthorized, ResultCode: "A217301", ResponseContent: `{"error":"invalid_token"}`}
	send(h, "GET", "/register/4711", "Bearer "+ratToken, "")
	backend.resp, backend.err = nil, &authlete.Error{Op: "delete", StatusCode: 500, ResultCode: "A001101", ResultMessage: "internal"}
	send(h, "DELETE", "/register/4711", "Bearer "+ratToken, "")

	require.Len(t, events, 6)
	for _, e := range events {
		assert.Positive(t, e.Duration)
		printed := fmt.Sprintf("%+v", e)
		for _, secret := range []string{ratToken, "iat-123456789", "s3cr3t-value"} {
			assert.NotContains(t, printed, secret)
		}
	}
	for _, e := range events {
		assert.Equal(t, "192.0.2.1", e.ClientAddr, "the host of RemoteAddr without Options.ClientAddr")
	}
	strip := func(e dcr.Event) dcr.Event { e.Duration, e.Err, e.ClientAddr = 0, nil, ""; return e }
	assert.Equal(t, dcr.Event{Op: "register", ClientID: "4711", Status: 201, Action: authlete.ActionCreated, ResultCode: "A202001"}, strip(events[0]))
	assert.Equal(t, dcr.Event{Op: "get", ClientID: "4711", Status: 401, ErrorCode: "invalid_token"}, strip(events[1]))
	assert.Equal(t, dcr.Event{Status: 405, ErrorCode: "invalid_request"}, strip(events[2]))
	assert.Equal(t, dcr.Event{Op: "register", Status: 400, ErrorCode: "invalid_redirect_uri"}, strip(events[3]))
	assert.Equal(t, dcr.Event{Op: "get", ClientID: "4711", Status: 401, Action: authlete.ActionUnauthorized, ResultCode: "A217301", ErrorCode: "invalid_token"}, strip(events[4]))
	assert.Equal(t, dcr.Event{Op: "delete", ClientID: "4711", Status: 500, ResultCode: "A001101"}, strip(events[5]))
	assert.ErrorIs(t, events[5].Err, backend.err)
}

func TestAuditClientAddr(t *testing.T) {
	var got []string
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionOK, ResponseContent: `{}`}}
	h := newRouter(dcr.New(backend, dcr.Options{
		Logger:     sinkLogger(t),
		ClientAddr: func(r *http.Request) string { return r.Header.Get("X-Test-Client") },
		Audit:      func(_ context.Context, e dcr.Event) { got = append(got, e.ClientAddr) },
	}))
	req := httptest.NewRequest("GET", "/register/4711", nil)
	req.Header.Set("Authorization", "Bearer "+ratToken)
	req.Header.Set("X-Test-Client", "203.0.113.7")
	h.ServeHTTP(httptest.NewRecorder(), req)
	assert.Equal(t, []string{"203.0.113.7"}, got)
}

// TestAuditContext: Audit gets the request's context, so that a
// middleware's own record of the request is at hand.
func TestAuditContext(t *testing.T) {
	type key struct{}
	var got any
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionOK, ResponseContent: `{}`}}
	h := newRouter(dcr.New(backend, dcr.Options{
		Logger: slog.New(slog.DiscardHandler),
		Audit:  func(ctx context.Context, e dcr.Event) { got = ctx.Value(key{}) },
	}))
	req := httptest.NewRequest("GET", "/register/4711", nil)
	req.Header.Set("Authorization", "Bearer "+ratToken)
	h.ServeHTTP(httptest.NewRecorder(), req.WithContext(context.WithValue(req.Context(), key{}, "the middleware's")))
	assert.Equal(t, "the middleware's", got)
}

func TestLogEvents(t *testing.T) {
	var logs bytes.Buffer
	backend := &scripted{err: errors.New("down")}
	h := newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t), Audit: dcr.LogEvents(sinkLogger(t, slog.NewJSONHandler(&logs, nil)))}))
	send(h, "GET", "/register/4711", "Bearer "+ratToken, "")
	out := logs.String()
	for _, want := range []string{`"level":"ERROR"`, `"msg":"dcr: request"`, `"op":"get"`, `"client_id":"4711"`, `"status":500`, `"err":"down"`} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, ratToken)
}

// TestPolicyRefusalStopsTheRequest protects the rule that a policy's
// refusal or failure answers the request: Authlete is not called and
// nothing more is written.
func TestPolicyRefusalStopsTheRequest(t *testing.T) {
	refuse := func(r *http.Request, m dcr.Metadata) error { return dcr.Reject(dcr.InvalidRedirectURI, "no") }
	fail := func(r *http.Request, m dcr.Metadata) error { return errors.New("store down") }
	unencodable := func(r *http.Request, m dcr.Metadata) error { m["x"] = math.Inf(1); return nil }
	for _, tc := range []struct {
		name         string
		policy       dcr.Policy
		method, path string
		status       int
		body         string
		hooked       bool
	}{
		{"refused registration", refuse, "POST", "/register", 400, `{"error":"invalid_redirect_uri","error_description":"no"}`, false},
		{"refused update", refuse, "PUT", "/register/1", 400, `{"error":"invalid_redirect_uri","error_description":"no"}`, false},
		{"failed registration", fail, "POST", "/register", 500, "", true},
		{"failed update", fail, "PUT", "/register/1", 500, "", true},
		{"unencodable registration", unencodable, "POST", "/register", 500, "", true},
		{"unencodable update", unencodable, "PUT", "/register/1", 500, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backend := &scripted{resp: &authlete.Response{Action: authlete.ActionOK, ResponseContent: content}}
			var hooked []error
			var logs bytes.Buffer
			h := newRouter(dcr.New(backend, dcr.Options{
				Logger:   sinkLogger(t, slog.NewJSONHandler(&logs, nil)),
				Policies: []dcr.Policy{tc.policy},
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					hooked = append(hooked, err)
					dcr.DefaultErrorHandler(w, r, err)
				},
			}))
			rec := send(h, tc.method, tc.path, "Bearer "+ratToken, `{"client_id":"1"}`)
			assert.Equal(t, tc.status, rec.Code)
			assert.Empty(t, backend.recorded(), "Authlete is not called")
			var body map[string]any
			dec := json.NewDecoder(rec.Body)
			require.NoError(t, dec.Decode(&body))
			assert.False(t, dec.More(), "one answer, not two: %s", rec.Body.String())
			if tc.body != "" {
				code, _ := body["error"].(string)
				assert.Equal(t, "invalid_redirect_uri", code)
			}
			assert.Equal(t, tc.hooked, len(hooked) == 1, "the hook sees a failure, not a refusal")
			if tc.hooked {
				assert.Contains(t, logs.String(), `"level":"ERROR"`)
				assert.NotContains(t, logs.String(), ratToken)
			}
		})
	}
}

// TestPolicyOutputIsWhatAuthleteGets pins the JSON that Authlete receives
// after a policy changed the metadata: members sorted, numbers as sent, no
// HTML escaping, no trailing newline.
func TestPolicyOutputIsWhatAuthleteGets(t *testing.T) {
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
	h := newRouter(dcr.New(backend, dcr.Options{Policies: []dcr.Policy{func(r *http.Request, m dcr.Metadata) error {
		m["application_type"] = "native"
		return nil
	}}}))
	rec := send(h, "POST", "/register", "", `{"redirect_uris":["http://localhost/cb?a=1&b=<2>"], "client_name":"café","n":1.50}`)
	require.Equal(t, 201, rec.Code)
	require.Len(t, backend.recorded(), 1)
	assert.Equal(t, `{"application_type":"native","client_name":"café","n":1.50,"redirect_uris":["http://localhost/cb?a=1&b=<2>"]}`,
		backend.recorded()[0].req.JSON)
}

// TestAuditStatuses protects the status the client gets when Audit wraps
// the ResponseWriter, and the status the event records when an error
// handler writes a body without WriteHeader, or nothing at all.
func TestAuditStatuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		resp   *authlete.Response
		hook   func(http.ResponseWriter, *http.Request, error)
		status int
	}{
		{"created", &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}, nil, 201},
		{"bad request", &authlete.Response{Action: authlete.ActionBadRequest, ResponseContent: content}, nil, 400},
		{"deleted", &authlete.Response{Action: authlete.ActionDeleted}, nil, 204},
		{"hook writes a body only", nil, func(w http.ResponseWriter, r *http.Request, err error) { io.WriteString(w, "{}") }, 200},
		{"hook writes nothing", nil, func(w http.ResponseWriter, r *http.Request, err error) {}, 200},
		{"hook writes twice", nil, func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(502)
			w.WriteHeader(503)
		}, 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var event dcr.Event
			backend := &scripted{resp: tc.resp}
			if tc.resp == nil {
				backend.err = errors.New("down")
			}
			h := newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t), ErrorHandler: tc.hook,
				Audit: func(_ context.Context, e dcr.Event) { event = e }}))
			rec := send(h, "POST", "/register", "", `{}`)
			assert.Equal(t, tc.status, rec.Code, "the client's status")
			assert.Equal(t, tc.status, event.Status, "the event's status")
		})
	}
}
