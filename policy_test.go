package dcr_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
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
