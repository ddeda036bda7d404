package authletetest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

func TestFaults(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	cfg := srv.Config()
	cfg.Timeout = 200 * time.Millisecond
	cfg.Retries = -1 // each fault shows once
	c, err := authlete.New(cfg)
	require.NoError(t, err)
	get := &authlete.Request{ClientID: "1", Token: "t"}

	refusals := []struct {
		status     int
		retryAfter string
		delay      time.Duration
	}{{401, "", 0}, {403, "", 0}, {429, "3", 3 * time.Second}, {500, "", 0}}
	for _, r := range refusals {
		srv.Inject(authletetest.Fault{Status: r.status, RetryAfter: r.retryAfter, Times: 1})
		_, err := c.Get(ctx, get)
		var ae *authlete.Error
		require.ErrorAs(t, err, &ae, "status %d", r.status)
		assert.Equal(t, r.status, ae.StatusCode)
		assert.Equal(t, r.delay, ae.RetryAfter)
		assert.Regexp(t, `^A\d{6}$`, ae.ResultCode)
	}

	srv.Inject(authletetest.Fault{Drop: true, Times: 1})
	_, err = c.Get(ctx, get)
	var ae *authlete.Error
	require.ErrorAs(t, err, &ae)
	assert.True(t, ae.Transport())

	srv.Inject(authletetest.Fault{Body: `{"action":`, Times: 1})
	_, err = c.Get(ctx, get)
	assert.ErrorIs(t, err, authlete.ErrMalformedResponse)

	srv.Inject(authletetest.Fault{Action: "SURPRISE", ResponseContent: `{}`, Times: 1})
	resp, err := c.Get(ctx, get)
	require.NoError(t, err)
	assert.Equal(t, authlete.Action("SURPRISE"), resp.Action)

	srv.Inject(authletetest.Fault{Delay: time.Second, Times: 1})
	start := time.Now()
	_, err = c.Get(ctx, get)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second, "the caller's timeout ends the call, not the delay")

	srv.Inject(authletetest.Fault{Delay: 10 * time.Millisecond, Times: 1})
	resp, err = c.Get(ctx, get)
	require.NoError(t, err)
	assert.Equal(t, authlete.ActionUnauthorized, resp.Action, "a delay alone answers normally")

	// Op and Times: a fault for delete leaves get alone, and runs out.
	srv.Inject(authletetest.Fault{Op: "delete", Status: 500, Times: 2})
	resp, err = c.Get(ctx, get)
	require.NoError(t, err)
	assert.Equal(t, authlete.ActionUnauthorized, resp.Action)
	for i := 0; i < 2; i++ {
		_, err = c.Delete(ctx, get)
		assert.Error(t, err)
	}
	_, err = c.Delete(ctx, get)
	assert.NoError(t, err)

	srv.Inject(authletetest.Fault{Status: 500})
	for i := 0; i < 3; i++ {
		_, err = c.Register(ctx, &authlete.Request{JSON: "{}"})
		assert.Error(t, err)
	}
	srv.ClearFaults()
	_, err = c.Register(ctx, &authlete.Request{JSON: "{}"})
	assert.NoError(t, err)
}
