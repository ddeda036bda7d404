package dcr_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dcr-go/dcr"
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
