package authlete_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"errors"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

func TestRetries(t *testing.T) {
	type op = func(*authlete.Client, context.Context, *authlete.Request) (*authlete.Response, error)
	get, del := (*authlete.Client).Get, (*authlete.Client).Delete
	register, update := (*authlete.Client).Register, (*authlete.Client).Update
	cases := []struct {
		name      string
		op        string
		call      op
		retries   int
		fault     authletetest.Fault
		wantErr   bool
		wantCalls int
	}{
		{"get after 503", "get", get, 0, authletetest.Fault{Status: 503, Times: 2}, false, 3},
		// A 429 is not retried: every client configuration request spends
		// Authlete's quota before its token is proven, and retries would
		// triple what an attacker with made-up tokens spends.
		{"get: 429 is not retried", "get", get, 0, authletetest.Fault{Status: 429, RetryAfter: "0", Times: 1}, true, 1},
		{"delete: 429 is not retried", "delete", del, 4, authletetest.Fault{Status: 429, Times: 1}, true, 1},
		{"get after 502", "get", get, 0, authletetest.Fault{Status: 502, Times: 1}, false, 2},
		{"get after 504", "get", get, 0, authletetest.Fault{Status: 504, Times: 1}, false, 2},
		{"get after a dropped connection", "get", get, 0, authletetest.Fault{Drop: true, Times: 1}, false, 2},
		{"get gives up after the retries", "get", get, 0, authletetest.Fault{Status: 503, Times: 3}, true, 3},
		{"get with more retries", "get", get, 4, authletetest.Fault{Status: 503, Times: 4}, false, 5},
		{"get with one retry", "get", get, 1, authletetest.Fault{Status: 503, Times: 2}, true, 2},
		{"get with one retry, enough", "get", get, 1, authletetest.Fault{Status: 503, Times: 1}, false, 2},
		{"get without retries", "get", get, -1, authletetest.Fault{Status: 503, Times: 1}, true, 1},
		{"get: 500 is not retried", "get", get, 0, authletetest.Fault{Status: 500, Times: 1}, true, 1},
		{"get: 401 is not retried", "get", get, 0, authletetest.Fault{Status: 401, Times: 1}, true, 1},
		{"get: undecodable is not retried", "get", get, 0, authletetest.Fault{Body: "<html>", Times: 1}, true, 1},
		{"get: Retry-After over MaxRetryWait", "get", get, 0, authletetest.Fault{Status: 503, RetryAfter: "10", Times: 1}, true, 1},
		{"delete after 503", "delete", del, 0, authletetest.Fault{Status: 503, Times: 1}, false, 2},
		{"delete after a dropped connection", "delete", del, 0, authletetest.Fault{Drop: true, Times: 2}, false, 3},
		{"register never", "register", register, 5, authletetest.Fault{Status: 503, Times: 1}, true, 1},
		{"register never after a drop", "register", register, 5, authletetest.Fault{Drop: true, Times: 1}, true, 1},
		{"update never", "update", update, 5, authletetest.Fault{Status: 503, Times: 1}, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := authletetest.NewServer(t, authletetest.Options{})
			cfg := srv.Config()
			cfg.Retries, cfg.RetryBackoff = tc.retries, time.Millisecond
			c, err := authlete.New(cfg)
			require.NoError(t, err)

			// A real client, so that get, update and delete can succeed.
			resp, err := c.Register(context.Background(), &authlete.Request{JSON: `{}`})
			require.NoError(t, err)
			var reg struct {
				ID    string `json:"client_id"`
				Token string `json:"registration_access_token"`
			}
			require.NoError(t, json.Unmarshal([]byte(resp.ResponseContent), &reg))
			req := &authlete.Request{ClientID: reg.ID, Token: reg.Token}
			if tc.op == "register" || tc.op == "update" {
				req.JSON = `{"client_id":"` + reg.ID + `"}`
			}
			before := srv.Calls(tc.op)

			fault := tc.fault
			fault.Op = tc.op
			srv.Inject(fault)
			resp, err = tc.call(c, context.Background(), req)
			if tc.wantErr {
				assert.Error(t, err)
			} else {
				require.NoError(t, err)
				assert.Contains(t, []authlete.Action{authlete.ActionOK, authlete.ActionDeleted}, resp.Action)
			}
			assert.Equal(t, tc.wantCalls, srv.Calls(tc.op)-before, "calls that reached Authlete")
		})
	}
}

func TestRetryWaitEndsWithCaller(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	cfg := srv.Config()
	cfg.RetryBackoff = time.Hour // a retry would wait for ever
	c, err := authlete.New(cfg)
	require.NoError(t, err)
	srv.Inject(authletetest.Fault{Status: 503})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Get(ctx, &authlete.Request{ClientID: "1", Token: "t"})
	var ae *authlete.Error
	require.ErrorAs(t, err, &ae, "the last error, not the context's")
	assert.Equal(t, 503, ae.StatusCode)
	assert.Equal(t, 1, srv.Calls("get"))
}

// TestTotalTimeoutBoundsRetries protects servers from a call that outlives
// them: with an Authlete that never answers, attempts and backoff end with
// the budget, and the caller sees a deadline.
func TestTotalTimeoutBoundsRetries(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	srv.Inject(authletetest.Fault{Delay: time.Hour})
	cfg := srv.Config()
	cfg.Timeout, cfg.TotalTimeout, cfg.Retries, cfg.RetryBackoff = 300*time.Millisecond, 700*time.Millisecond, 100, time.Millisecond
	c, err := authlete.New(cfg)
	require.NoError(t, err)
	start := time.Now()
	_, err = c.Get(context.Background(), &authlete.Request{ClientID: "1", Token: "t"})
	elapsed := time.Since(start)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.GreaterOrEqual(t, elapsed, 700*time.Millisecond, "the budget is used")
	assert.Less(t, elapsed, 5*time.Second, "and not exceeded by much, even on a busy machine")
	calls := srv.Calls("get")
	assert.GreaterOrEqual(t, calls, 2, "retried within the budget")
	assert.LessOrEqual(t, calls, 3, "no attempt beyond the budget")
}

// TestRetryThatCannotFinishIsNotStarted protects the last error from being
// replaced by a deadline: a wait longer than the budget left ends the call
// at once with Authlete's answer.
func TestRetryThatCannotFinishIsNotStarted(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	srv.Inject(authletetest.Fault{Status: 503})
	cfg := srv.Config()
	cfg.TotalTimeout, cfg.RetryBackoff = 2*time.Second, time.Hour // waits are at least MaxRetryWait/2
	c, err := authlete.New(cfg)
	require.NoError(t, err)
	start := time.Now()
	_, err = c.Get(context.Background(), &authlete.Request{ClientID: "1", Token: "t"})
	var ae *authlete.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 503, ae.StatusCode)
	assert.False(t, errors.Is(err, context.DeadlineExceeded))
	assert.Less(t, time.Since(start), time.Second, "no wait, not even until the budget ends")
	assert.Equal(t, 1, srv.Calls("get"))
}
