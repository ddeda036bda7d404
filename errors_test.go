package dcr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

func TestWriteError(t *testing.T) {
	cases := []struct {
		name   string
		err    *dcr.Error
		preset http.Header // set on the writer before
		status int
		header http.Header
		body   string
	}{
		{"a policy's refusal", dcr.Reject(dcr.InvalidRedirectURI, "No http."), nil, 400,
			with(noStore()), `{"error":"invalid_redirect_uri","error_description":"No http."}`},
		{"zero status", &dcr.Error{Code: dcr.InvalidClientMetadata, Description: "x"}, nil, 400,
			with(noStore()), `{"error":"invalid_client_metadata","error_description":"x"}`},
		{"not an error status", &dcr.Error{Status: 200, Code: dcr.InvalidRequest}, nil, 400,
			with(noStore()), `{"error":"invalid_request","error_description":""}`},
		{"beyond 5xx", &dcr.Error{Status: 1000, Code: dcr.InvalidRequest}, nil, 400,
			with(noStore()), `{"error":"invalid_request","error_description":""}`},
		{"a challenge", &dcr.Error{Status: 401, Code: dcr.InvalidToken, Description: "t", Challenge: `Bearer error="invalid_token"`}, nil, 401,
			with(noStore(), "WWW-Authenticate", `Bearer error="invalid_token"`), `{"error":"invalid_token","error_description":"t"}`},
		{"headers set before are kept", &dcr.Error{Status: 429, Code: dcr.TemporarilyUnavailable, Description: "Slow down."},
			http.Header{"Retry-After": {"7"}, "Cache-Control": {"private"}}, 429,
			with(noStore(), "Retry-After", "7"), `{"error":"temporarily_unavailable","error_description":"Slow down."}`},
		{"description escaped", &dcr.Error{Code: dcr.InvalidRequest, Description: `"quoted" <b>`}, nil, 400,
			with(noStore()), `{"error":"invalid_request","error_description":"\"quoted\" \u003cb\u003e"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			for k, v := range tc.preset {
				rec.Header()[k] = v
			}
			dcr.WriteError(rec, tc.err)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.header, rec.Header())
			assert.Equal(t, tc.body, rec.Body.String())
		})
	}
}

func TestErrorText(t *testing.T) {
	assert.Equal(t, "dcr: rejected: invalid_redirect_uri: No http.", dcr.Reject(dcr.InvalidRedirectURI, "No http.").Error())
}

// A middleware in front of the handler answers in the handler's shape.
func ExampleWriteError() {
	rec := httptest.NewRecorder()
	rec.Header().Set("Retry-After", "30")
	dcr.WriteError(rec, &dcr.Error{Status: http.StatusTooManyRequests, Code: dcr.TemporarilyUnavailable, Description: "Too many registrations; try again later."})
	fmt.Println(rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("Cache-Control"))
	fmt.Println(rec.Body.String())
	// Output:
	// 429 30 no-store
	// {"error":"temporarily_unavailable","error_description":"Too many registrations; try again later."}
}

// A Policy's *Error, wrapped or not, is the client's answer as it is; its
// Challenge too.
func TestPolicyErrorIsTheAnswer(t *testing.T) {
	refusal := &dcr.Error{Status: http.StatusForbidden, Code: "access_denied", Description: "Not from here.", Challenge: `Bearer realm="x"`}
	backend := &scripted{}
	h := newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t), Policies: []dcr.Policy{
		func(*http.Request, dcr.Metadata) error { return fmt.Errorf("gate: %w", refusal) },
	}}))
	rec := send(h, "POST", "/register", "", `{}`)
	assert.Equal(t, 403, rec.Code)
	assert.Equal(t, `Bearer realm="x"`, rec.Header().Get("WWW-Authenticate"))
	assert.JSONEq(t, `{"error":"access_denied","error_description":"Not from here."}`, rec.Body.String())
	assert.Empty(t, backend.calls, "Authlete is not called")
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
