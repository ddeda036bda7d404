package authlete_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
)

func TestRefusals(t *testing.T) {
	cases := []struct {
		status     int
		retryAfter string
		wantDelay  time.Duration
		code, msg  string
	}{
		{400, "", 0, "A001201", "[A001201] /client/registration, TLS must be used."},
		{401, "", 0, "A001202", "[A001202] /client/registration, Authorization header is missing."},
		{403, "", 0, "A001215", "[A001215] /client/registration, The client is locked."},
		{404, "", 0, "A001103", "[A001103] not found"},
		{429, "7", 7 * time.Second, "A001104", "[A001104] too many requests"},
		{500, "", 0, "A001101", "[A001101] /client/registration, Authlete Server error."},
		{503, "2", 2 * time.Second, "", ""},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				if tc.code != "" {
					json.NewEncoder(w).Encode(map[string]string{"resultCode": tc.code, "resultMessage": tc.msg})
				}
			}))
			defer srv.Close()
			cfg := v3Config(srv.URL)
			cfg.Retries = -1 // see TestRetries
			c, err := authlete.New(cfg)
			require.NoError(t, err)
			resp, err := c.Get(context.Background(), &authlete.Request{ClientID: "1", Token: "tok"})
			assert.Nil(t, resp)
			var ae *authlete.Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, &authlete.Error{Op: "get", StatusCode: tc.status, ResultCode: tc.code,
				ResultMessage: tc.msg, RetryAfter: tc.wantDelay}, ae)
			assert.False(t, ae.Transport())
			assert.NotContains(t, err.Error(), accessToken)
			assert.NotContains(t, err.Error(), "tok\"")
		})
	}
}

func TestRetryAfterDate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	c, err := authlete.New(v3Config(srv.URL))
	require.NoError(t, err)
	_, err = c.Delete(context.Background(), &authlete.Request{ClientID: "1", Token: "t"})
	var ae *authlete.Error
	require.ErrorAs(t, err, &ae)
	assert.InDelta(t, 90, ae.RetryAfter.Seconds(), 2)
}

// TestErrorText pins the whole text of an Error, for each kind of failure.
func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  authlete.Error
		want string
	}{
		{authlete.Error{Op: "register", Err: errors.New("connection refused")}, "authlete register: connection refused"},
		{authlete.Error{Op: "get", StatusCode: 401, ResultCode: "A001202", ResultMessage: "No header."}, `authlete get: HTTP 401 A001202 "No header."`},
		{authlete.Error{Op: "get", StatusCode: 429}, "authlete get: HTTP 429"},
		{authlete.Error{Op: "update", StatusCode: 200, Err: authlete.ErrMalformedResponse}, "authlete update: HTTP 200: malformed response"},
		{authlete.Error{Op: "delete"}, "authlete delete:"},
	} {
		assert.Equal(t, tc.want, tc.err.Error())
	}
}
