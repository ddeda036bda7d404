package dcr_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

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

// TestShortTokensDoNotGarbleLogs protects the operator's log from a caller
// who sends a one-letter token so that redaction rewrites every such
// letter of the failure's text.
func TestShortTokensDoNotGarbleLogs(t *testing.T) {
	backend := &scripted{err: &authlete.Error{Op: "get", Err: errors.New("connection refused")}}
	for _, tc := range []struct{ token, want string }{
		{"t", "authlete get: connection refused"},
		{"e", "authlete get: connection refused"},
		{"refused1", "authlete get: connection refused"},
	} {
		var logs bytes.Buffer
		h := newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t, slog.NewJSONHandler(&logs, nil))}))
		send(h, "GET", "/register/4711", "Bearer "+tc.token, "")
		assert.Contains(t, logs.String(), `"error":"`+tc.want+`"`, tc.token)
	}

	// A token long enough to be a secret is redacted wherever a backend
	// put it.
	var logs bytes.Buffer
	backend.err = fmt.Errorf("bad token %s", ratToken)
	h := newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t, slog.NewJSONHandler(&logs, nil))}))
	send(h, "GET", "/register/4711", "Bearer "+ratToken, "")
	assert.Contains(t, logs.String(), `"error":"bad token REDACTED"`)
	assert.NotContains(t, logs.String(), ratToken)
}

// TestLogLines pins what the handler logs, at which level, with which
// keys: the operator's only view of failures.
func TestLogLines(t *testing.T) {
	iat := func(ctx context.Context, token string) error { return errors.New("unknown token") }
	internal := &authlete.Response{Action: authlete.ActionInternalServerError, ResultCode: "A202101",
		ResultMessage: "[A202101] Authlete failed.", ResponseContent: `{"error":"server_error"}`}
	for _, tc := range []struct {
		name   string
		opts   dcr.Options
		resp   *authlete.Response
		err    error
		method string
		path   string
		want   []string
	}{
		{"refused initial access token", dcr.Options{InitialAccessToken: iat}, nil, nil, "POST", "/register",
			[]string{`"level":"INFO"`, `"msg":"dcr: initial access token refused"`, `"error":"unknown token"`}},
		{"INTERNAL_SERVER_ERROR", dcr.Options{}, internal, nil, "GET", "/register/4711",
			[]string{`"level":"WARN"`, `"msg":"dcr: authlete answered INTERNAL_SERVER_ERROR"`, `"op":"get"`,
				`"result_code":"A202101"`, `"result_message":"[A202101] Authlete failed."`}},
		{"backend failure", dcr.Options{}, nil, errors.New("down"), "DELETE", "/register/4711",
			[]string{`"level":"ERROR"`, `"msg":"dcr: request failed"`, `"op":"delete"`, `"client_id":"4711"`, `"error":"down"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			tc.opts.Logger = sinkLogger(t, slog.NewJSONHandler(&logs, nil))
			h := newRouter(dcr.New(&scripted{resp: tc.resp, err: tc.err}, tc.opts))
			send(h, tc.method, tc.path, "Bearer "+ratToken, `{}`)
			for _, want := range tc.want {
				assert.Contains(t, logs.String(), want)
			}
			assert.Equal(t, 1, strings.Count(logs.String(), "\n"), "one line: %s", logs.String())
			assert.NotContains(t, logs.String(), ratToken)
		})
	}

	// A client that went away is no failure of the server: Info. Its
	// call to Authlete ends all the same, and the log says how.
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	backend := backendFunc(func(ctx context.Context, op string, req *authlete.Request) (*authlete.Response, error) {
		cancel()
		return &authlete.Response{Action: authlete.ActionOK, ResponseContent: "{}"}, ctx.Err()
	})
	h := newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t, slog.NewJSONHandler(&logs, nil))}))
	r := httptest.NewRequestWithContext(ctx, "GET", "/register/4711", nil)
	r.Header.Set("Authorization", "Bearer "+ratToken)
	h.ServeHTTP(httptest.NewRecorder(), r)
	assert.Contains(t, logs.String(), `"level":"INFO","msg":"dcr: the client went away before Authlete answered","op":"get","action":"OK"}`)
	assert.Equal(t, 1, strings.Count(logs.String(), "\n"), "the call was not cancelled: %s", logs.String())

	// A policy that gives up because the client went away: Info.
	logs.Reset()
	ctx, cancel = context.WithCancel(context.Background())
	giveUp := func(r *http.Request, _ dcr.Metadata) error { cancel(); return r.Context().Err() }
	h = newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t, slog.NewJSONHandler(&logs, nil)), Policies: []dcr.Policy{giveUp}}))
	r = httptest.NewRequestWithContext(ctx, "PUT", "/register/4711", strings.NewReader(`{}`))
	r.Header.Set("Authorization", "Bearer "+ratToken)
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(httptest.NewRecorder(), r)
	assert.Contains(t, logs.String(), `"level":"INFO","msg":"dcr: request failed"`)

	// A context error of Authlete's call, not the client's: Error.
	logs.Reset()
	backend = backendFunc(func(ctx context.Context, op string, req *authlete.Request) (*authlete.Response, error) {
		return nil, &authlete.Error{Op: op, Err: context.Canceled}
	})
	h = newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t, slog.NewJSONHandler(&logs, nil))}))
	send(h, "GET", "/register/4711", "Bearer "+ratToken, "")
	assert.Contains(t, logs.String(), `"level":"ERROR","msg":"dcr: request failed"`)
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

// TestClientIDBoundaries: 1024 visible ASCII characters, from '!' to '~'.
func TestClientIDBoundaries(t *testing.T) {
	for id, ok := range map[string]bool{
		strings.Repeat("1", 1024): true,
		strings.Repeat("1", 1025): false,
		"!":                       true,
		"~":                       true,
		"a\x7fb":                  false,
		"a b":                     false,
	} {
		backend := &scripted{resp: &authlete.Response{Action: authlete.ActionOK, ResponseContent: "{}"}}
		h := dcr.New(backend, dcr.Options{ClientID: func(*http.Request) string { return id }})
		rec := send(h, "GET", "/register/x", "Bearer t", "")
		if ok {
			assert.Equal(t, 200, rec.Code, "%q", id)
			assert.Equal(t, []call{{"get", authlete.Request{ClientID: id, Token: "t"}}}, backend.recorded())
		} else {
			assert.Equal(t, 400, rec.Code, "%q", id)
			assert.Empty(t, backend.recorded())
		}
	}
}

// errReader fails in the middle of a body.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestUnreadableBody: a body that cannot be read is the client's 400,
// without calling Authlete.
func TestUnreadableBody(t *testing.T) {
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
	r := httptest.NewRequest("POST", "/register", errReader{})
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	newRouter(dcr.New(backend, dcr.Options{})).ServeHTTP(rec, r)
	assert.Equal(t, 400, rec.Code)
	assert.JSONEq(t, `{"error":"invalid_request","error_description":"The request body could not be read."}`, rec.Body.String())
	assert.Empty(t, backend.recorded())
}

// b64token is the alphabet of RFC 6750 bearer tokens, without the
// trailing '='.
const b64token = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"

// TestInvariantLogsHoldNoToken: the request's token (a registration
// access token or an initial access token), and a token the request
// never carried (another client's, Authlete's service access token),
// echoed by the Backend or a hook in every place one could put them
// (Authlete's resultMessage with INTERNAL_SERVER_ERROR and with an HTTP
// refusal, a Backend's error text, a URL in a transport error, the
// errors of the initial access token verifier and of a policy), never
// reach the Handler's log or LogEvents'.
func TestInvariantLogsHoldNoToken(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		token := rapid.StringOfN(rapid.SampledFrom([]rune(b64token)), minSecretLen, 64, -1).Draw(rt, "token")
		foreign := base64.RawURLEncoding.EncodeToString(rapid.SliceOfN(rapid.Byte(), 16, 48).Draw(rt, "foreign token bytes"))
		echo := rapid.SampledFrom([]string{token, foreign, token + " " + foreign, "Bearer " + token, "token=" + foreign + "&x=1"}).Draw(rt, "echo")
		place := rapid.SampledFrom([]string{"resultMessage", "refusal resultMessage", "backend error", "URL", "verifier", "verifier failure", "policy"}).Draw(rt, "place")
		method := rapid.SampledFrom([]string{"POST", "GET", "PUT", "DELETE"}).Draw(rt, "method")

		var resp *authlete.Response
		var err error
		opts := dcr.Options{}
		switch place {
		case "resultMessage":
			resp = &authlete.Response{Action: authlete.ActionInternalServerError, ResultCode: "A001101",
				ResultMessage: "[A001101] Authlete Server error: " + echo, ResponseContent: `{"error":"server_error"}`}
		case "refusal resultMessage":
			err = &authlete.Error{Op: "get", StatusCode: 500, ResultCode: "A001101", ResultMessage: "[A001101] " + echo}
		case "backend error":
			err = fmt.Errorf("decorator: %s: %w", echo, &authlete.Error{Op: "get", Err: errors.New("connection reset")})
		case "URL":
			err = &authlete.Error{Op: "get", Err: &url.Error{Op: "Post", URL: "https://authlete.example/api?" + echo, Err: context.DeadlineExceeded}}
		case "verifier":
			method = "POST"
			opts.InitialAccessToken = func(context.Context, string) error { return errors.New("unknown token " + echo) }
		case "verifier failure":
			method = "POST"
			opts.InitialAccessToken = func(context.Context, string) error {
				return fmt.Errorf("store: %w: %s", dcr.ErrVerifierFailed, echo)
			}
		case "policy":
			opts.Policies = []dcr.Policy{func(*http.Request, dcr.Metadata) error { return errors.New("policy store: " + echo) }}
		}
		var logs bytes.Buffer
		jsonLog := slog.NewJSONHandler(&logs, nil)
		opts.Logger = slog.New(jsonLog)
		opts.Audit = dcr.LogEvents(slog.New(jsonLog))
		h := newRouter(dcr.New(&scripted{resp: resp, err: err}, opts))
		path := "/register/4711"
		if method == "POST" {
			path = "/register"
		}
		body := ""
		if method == "POST" || method == "PUT" {
			body = `{}`
		}
		send(h, method, path, "Bearer "+token, body)
		if logs.Len() == 0 {
			rt.Fatal("nothing was logged")
		}
		for _, secret := range []string{token, foreign} {
			if strings.Contains(logs.String(), secret) {
				rt.Fatalf("%s echoed in %s reached the log:\n%s", secret, place, logs.String())
			}
		}
	})
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
