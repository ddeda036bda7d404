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
	"net/url"
	"strings"
	"testing"
	"time"

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
			backend := succeeding(content)
			h := rt.mount(requireInitialToken("iat-1")(dcr.New(backend, dcr.Options{})))
			cases := []struct {
				method, path, authorization string
				status                      int
			}{
				{"POST", "/register", "", 401},
				{"POST", "/register", "Bearer wrong", 401},
				{"POST", "/register", "Bearer iat-1", 201},
				{"GET", "/register/" + clientID, "Bearer " + ratToken, 200},
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
	assert.Contains(t, logs.String(), `"level":"INFO","msg":"dcr: the request's context ended before Authlete answered","op":"get","action":"OK","cause":"context canceled"}`)
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

// TestTimeoutHandlerAnswerLost: under http.TimeoutHandler, which answers
// 503 in the Handler's place, a registration that Authlete performs after
// the deadline is not lost from sight: the Handler logs that its answer
// could not be written, with the client Authlete created, and the Event
// says so (Err is http.ErrHandlerTimeout; Status is what the Handler
// wrote). The log of the request's end names the deadline, not a client
// that went away.
func TestTimeoutHandlerAnswerLost(t *testing.T) {
	release := make(chan struct{})
	backend := backendFunc(func(ctx context.Context, op string, req *authlete.Request) (*authlete.Response, error) {
		<-release // until TimeoutHandler has answered
		return &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}, nil
	})
	var logs bytes.Buffer // written before the event is sent, read after it is received
	events := make(chan dcr.Event, 1)
	h := http.TimeoutHandler(newRouter(dcr.New(backend, dcr.Options{
		Logger: sinkLogger(t, slog.NewJSONHandler(&logs, nil)),
		Audit:  func(_ context.Context, e dcr.Event) { events <- e },
	})), 10*time.Millisecond, "")
	rec := send(h, "POST", "/register", "", metadata)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	close(release)
	e := <-events
	assert.Equal(t, 201, e.Status)
	assert.ErrorIs(t, e.Err, http.ErrHandlerTimeout)
	assert.Equal(t, "26837717140341", e.ClientID)
	assert.Equal(t, authlete.ActionCreated, e.Action)
	assert.Contains(t, logs.String(), `"level":"WARN","msg":"dcr: the answer could not be written: the client does not know what Authlete did","op":"register","action":"CREATED","client_id":"26837717140341","error":"http: Handler timeout"}`)
	assert.Contains(t, logs.String(), `"msg":"dcr: the request's context ended before Authlete answered","op":"register","action":"CREATED","cause":"context deadline exceeded"}`)
}
