package dcr_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

// TestPolicyUnavailable: a Policy that depends on a service that is down
// returns dcr.Unavailable; the client gets 503 temporarily_unavailable
// with Retry-After (rounded up, at most an hour), not a 400 it would take
// as final, and never the cause; the error hook and the log get it.
func TestPolicyUnavailable(t *testing.T) {
	cause := errors.New("JWKS https://issuer.example/jwks: connection refused")
	for _, tc := range []struct {
		name       string
		retryAfter time.Duration
		want       string
	}{
		{"seconds", 3 * time.Second, "3"},
		{"rounded up", 1500 * time.Millisecond, "2"},
		{"at most an hour", 48 * time.Hour, "3600"},
		{"none", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
			var hooked []error
			var logs bytes.Buffer
			h := newRouter(dcr.New(backend, dcr.Options{
				Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
				Policies: []dcr.Policy{func(*http.Request, dcr.Metadata) error {
					return dcr.Unavailable(tc.retryAfter, cause)
				}},
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					hooked = append(hooked, err)
					dcr.DefaultErrorHandler(w, r, err)
				},
			}))
			rec := send(h, "POST", "/register", "", `{"redirect_uris":["https://app.example/cb"]}`)
			assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
			assert.Equal(t, tc.want, rec.Header().Get("Retry-After"))
			var body map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
			assert.Equal(t, "temporarily_unavailable", body["error"])
			assert.NotContains(t, rec.Body.String(), "JWKS")
			assert.Empty(t, backend.recorded(), "Authlete is not called")
			require.Len(t, hooked, 1)
			assert.ErrorIs(t, hooked[0], cause)
			assert.Contains(t, logs.String(), "connection refused")
		})
	}
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
	backend := succeeding(content)
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
	assert.Equal(t, 201, rec.Code)
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
