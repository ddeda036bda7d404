package dcr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

// The seed corpora are in testdata/fuzz; go test runs them as tests.

func FuzzBearerToken(f *testing.F) {
	f.Fuzz(func(t *testing.T, first, second string, two bool) {
		r := &http.Request{Header: http.Header{"Authorization": {first}}}
		if two {
			r.Header.Add("Authorization", second)
		}
		token, err := dcr.BearerToken(r)
		switch {
		case err != nil:
			if !errors.Is(err, dcr.ErrMalformedAuthorization) || token != "" {
				t.Fatalf("error %v with token %q", err, token)
			}
		case token == "":
			if two || strings.Trim(first, " \t") != "" {
				t.Fatalf("no token and no error for %q", r.Header["Authorization"])
			}
		default:
			if two || !strings.HasSuffix(strings.TrimRight(first, " \t"), token) || len(token) > 8<<10 {
				t.Fatalf("token %q from %q", token, r.Header["Authorization"])
			}
			if strings.ContainsAny(token, " \t\",\\") || strings.Trim(token, "=") == "" {
				t.Fatalf("token %q is not a b64token", token)
			}
		}
	})
}

// FuzzClientID sends client IDs through http.ServeMux, as a deployment
// does: the backend sees exactly the ID of the path, or is not called.
func FuzzClientID(f *testing.F) {
	f.Fuzz(func(t *testing.T, id string) {
		backend := &scripted{resp: &authlete.Response{Action: authlete.ActionUnauthorized, ResponseContent: `{"error":"invalid_token"}`}}
		r := httptest.NewRequest("GET", "/register/x", nil)
		r.URL = &url.URL{Path: "/register/" + id, RawPath: "/register/" + url.PathEscape(id)}
		r.Header.Set("Authorization", "Bearer t")
		rec := httptest.NewRecorder()
		newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t)})).ServeHTTP(rec, r)
		calls := backend.recorded()
		switch {
		case len(calls) == 1:
			if calls[0].req.ClientID != id || rec.Code != 401 {
				t.Fatalf("path ID %q reached the backend as %q, answer %d", id, calls[0].req.ClientID, rec.Code)
			}
		case rec.Code == 400:
			checkErrorAnswer(t, rec, "")
		case rec.Code == 404 || rec.Code == 405 || rec.Code == 301 || rec.Code == 307:
			// not a client configuration path: ServeMux or the registration endpoint answered
		default:
			t.Fatalf("path ID %q: unexpected %d %q", id, rec.Code, rec.Body)
		}
	})
}

const (
	fuzzServiceToken = "V5a40R6dWvw2gMkCOBFdZcM95q4HC0Z-T0YKD9-nR6F"
	fuzzSecret       = "password=hunter2"
)

// fuzzBackend answers every call with one of the failures or refusals a
// backend can produce, chosen by the fuzzer.
type fuzzBackend byte

func (b fuzzBackend) answer(ctx context.Context, op string, req *authlete.Request) (*authlete.Response, error) {
	content := `{"error":"invalid_client_metadata","error_description":"[A202201] bad"}`
	switch b % 10 {
	case 0:
		return nil, errors.New("authlete " + op + ": dial tcp: " + fuzzSecret + " " + fuzzServiceToken + " " + req.Token)
	case 1:
		return &authlete.Response{Action: authlete.ActionBadRequest, ResponseContent: content}, nil
	case 2:
		return &authlete.Response{Action: authlete.ActionUnauthorized, ResponseContent: `{"error":"invalid_token"}`}, nil
	case 3:
		return &authlete.Response{Action: authlete.ActionInternalServerError, ResponseContent: `{"error":"server_error"}`, ResultMessage: fuzzSecret}, nil
	case 4:
		return &authlete.Response{Action: authlete.ActionDeleted}, nil
	case 5:
		return &authlete.Response{Action: authlete.Action(fuzzSecret), ResponseContent: content}, nil
	case 6:
		return nil, nil
	case 7:
		return &authlete.Response{Action: authlete.ActionBadRequest}, nil
	case 8:
		return nil, &authlete.Error{Op: op, StatusCode: 429, ResultCode: "A001106", ResultMessage: fuzzSecret, RetryAfter: time.Duration(b) * time.Second}
	default:
		return nil, &authlete.Error{Op: op, Err: context.DeadlineExceeded}
	}
}

// FuzzHandler sends the handler random methods, client IDs, headers and
// bodies, with a backend that fails in every way it can.
func FuzzHandler(f *testing.F) {
	f.Fuzz(func(t *testing.T, method, clientID, authorization, contentType string, body []byte, behaviour byte) {
		var logs bytes.Buffer
		h := dcr.New(backendFunc(fuzzBackend(behaviour).answer), dcr.Options{MaxBodyBytes: 1 << 10, Logger: sinkLogger(t, slog.NewTextHandler(&logs, nil))})
		r := &http.Request{Method: method, URL: &url.URL{Path: "/register"}, Header: http.Header{},
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
		r = r.WithContext(context.Background())
		r.SetPathValue("client_id", clientID)
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)

		token, _ := dcr.BearerToken(r)
		if rec.Code == http.StatusNoContent {
			if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("204 with %v %q", rec.Header(), rec.Body)
			}
		} else {
			checkErrorAnswer(t, rec, token)
		}
		if len(token) >= 8 && strings.Contains(logs.String(), token) {
			t.Fatalf("the token %q reached the log: %s", token, logs.String())
		}
	})
}

// checkErrorAnswer fails unless rec is an RFC-shaped JSON error with the
// no-store headers and nothing secret in it.
func checkErrorAnswer(t *testing.T, rec *httptest.ResponseRecorder, token string) {
	t.Helper()
	h := rec.Header()
	if h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" {
		t.Fatalf("%d with headers %v", rec.Code, h)
	}
	var e map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d with a body that is not JSON: %q", rec.Code, rec.Body)
	}
	if code, _ := e["error"].(string); code == "" {
		t.Fatalf("%d without error: %q", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, secret := range []string{fuzzServiceToken, fuzzSecret, "hunter2", "dial tcp", "authlete ", "dcr:"} {
		if strings.Contains(body, secret) {
			t.Fatalf("the answer holds %q: %s", secret, body)
		}
	}
	if len(token) >= 8 && strings.Contains(body, token) {
		t.Fatalf("the answer holds the token: %s", body)
	}
}
