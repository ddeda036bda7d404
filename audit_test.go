package dcr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

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
		{"deleted to a registration", &authlete.Response{Action: authlete.ActionDeleted}, nil, 500},
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

// TestEventErrHoldsNoTokenOrResultMessage protects the promise of Event:
// a backend failure whose text holds the request's token and Authlete's
// resultMessage reaches Audit, and LogEvents' log, without either.
func TestEventErrHoldsNoTokenOrResultMessage(t *testing.T) {
	const message = "Service 21653835348762 is locked by admin@example.com."
	cause := &authlete.Error{Op: "get", StatusCode: 403, ResultCode: "A001215", ResultMessage: message}
	backend := &scripted{err: fmt.Errorf("decorator saw token %s: %w", ratToken, cause)}
	var logs bytes.Buffer
	var event dcr.Event
	logEvent := dcr.LogEvents(sinkLogger(t, slog.NewJSONHandler(&logs, nil)))
	h := newRouter(dcr.New(backend, dcr.Options{
		Logger: sinkLogger(t),
		Audit:  func(ctx context.Context, e dcr.Event) { event = e; logEvent(ctx, e) },
	}))
	send(h, "GET", "/register/4711", "Bearer "+ratToken, "")

	require.Error(t, event.Err)
	for _, text := range []string{event.Err.Error(), fmt.Sprintf("%+v", event), logs.String()} {
		assert.NotContains(t, text, ratToken)
		assert.NotContains(t, text, message)
		assert.NotContains(t, text, "admin@example.com")
	}
	assert.Equal(t, "decorator saw token REDACTED: authlete get: HTTP 403 A001215", event.Err.Error())
	assert.Contains(t, logs.String(), `"err":"decorator saw token REDACTED: authlete get: HTTP 403 A001215"`)
	assert.ErrorIs(t, event.Err, cause, "errors.Is still finds the failure")
	var ae *authlete.Error
	require.ErrorAs(t, event.Err, &ae)
	assert.Equal(t, 403, ae.StatusCode)
	assert.Equal(t, "A001215", ae.ResultCode)
	assert.Empty(t, ae.ResultMessage, "errors.As gives the failure without its resultMessage")
	assert.Equal(t, message, cause.ResultMessage, "the backend's own error is not changed")

	var other *dcr.Error
	assert.False(t, errors.As(event.Err, &other))
}

// TestLogEventsKeys pins the keys and levels of LogEvents.
func TestLogEventsKeys(t *testing.T) {
	var logs bytes.Buffer
	log := dcr.LogEvents(sinkLogger(t, slog.NewJSONHandler(&logs, nil)))
	log(context.Background(), dcr.Event{Op: "register", ClientID: "4711", Status: 201, Action: authlete.ActionCreated, ResultCode: "A202001", Duration: time.Millisecond, ClientAddr: "203.0.113.7"})
	assert.Equal(t, `"level":"INFO","msg":"dcr: request","op":"register","client_id":"4711","status":201,"action":"CREATED","result_code":"A202001","error":"","duration":1000000,"client_addr":"203.0.113.7"}`,
		logs.String()[strings.Index(logs.String(), `"level"`):len(logs.String())-1])
	logs.Reset()
	log(context.Background(), dcr.Event{Op: "get", Status: 499})
	assert.Contains(t, logs.String(), `"level":"INFO"`)
	logs.Reset()
	log(context.Background(), dcr.Event{Op: "get", Status: 500, ErrorCode: "server_error", Err: errors.New("x")})
	assert.Contains(t, logs.String(), `"level":"ERROR"`)
	assert.Contains(t, logs.String(), `"error":"server_error"`)
	assert.Contains(t, logs.String(), `"err":"x"`)
}

// TestEventClientIDHoldsNoToken protects Event's promise from a client
// that puts its registration access token in the path too ("GET
// /register/<token>", a client ID and a token confused): the event's
// ClientID, the Handler's log and LogEvents' hold the path without it.
func TestEventClientIDHoldsNoToken(t *testing.T) {
	for _, backendErr := range []error{nil, &authlete.Error{Op: "get", Err: errors.New("connection refused")}} {
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			for _, path := range []string{"/register/" + ratToken, "/register/x" + ratToken + "y"} {
				var logs bytes.Buffer
				var event dcr.Event
				logEvent := dcr.LogEvents(slog.New(slog.NewJSONHandler(&logs, nil)))
				h := newRouter(dcr.New(&scripted{err: backendErr}, dcr.Options{
					Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
					Audit:  func(ctx context.Context, e dcr.Event) { event = e; logEvent(ctx, e) },
				}))
				send(h, method, path, "Bearer "+ratToken, `{"redirect_uris":["https://app.example/cb"]}`)
				assert.Equal(t, strings.Replace(strings.TrimPrefix(path, "/register/"), ratToken, "REDACTED", 1), event.ClientID, method, path)
				assert.NotContains(t, fmt.Sprintf("%+v", event), ratToken, method, path)
				assert.NotContains(t, logs.String(), ratToken, method, path)
			}
		}
	}
}

// stringWriter is a ResponseWriter that counts the writes that reach it
// as strings.
type stringWriter struct {
	*httptest.ResponseRecorder
	strings int
}

func (w *stringWriter) WriteString(s string) (int, error) {
	w.strings++
	return w.ResponseRecorder.WriteString(s)
}

// TestAuditKeepsWriteString: with Audit set, the body still reaches the
// server's WriteString, uncopied, and the event has the status.
func TestAuditKeepsWriteString(t *testing.T) {
	var event dcr.Event
	h := newRouter(dcr.New(succeeding(content), dcr.Options{Logger: sinkLogger(t), Audit: func(_ context.Context, e dcr.Event) { event = e }}))
	w := &stringWriter{ResponseRecorder: httptest.NewRecorder()}
	r := httptest.NewRequest("POST", "/register", strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(w, r)
	assert.Equal(t, 201, w.Code)
	assert.Equal(t, content, w.Body.String())
	assert.Equal(t, 1, w.strings, "the body is written as a string")
	assert.Equal(t, 201, event.Status)
}
