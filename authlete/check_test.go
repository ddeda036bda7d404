package authlete_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

func TestCheck(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedURL := "http://" + closed.Addr().String()
	closed.Close()

	cases := []struct {
		name    string
		cfg     func(*authlete.Config)
		fault   *authletetest.Fault
		ok      bool
		refused bool
		status  int
	}{
		{"accepted (v3)", func(*authlete.Config) {}, nil, true, false, 0},
		{"accepted (v2)", func(c *authlete.Config) { *c = srv.ConfigV2() }, nil, true, false, 0},
		{"wrong access token", func(c *authlete.Config) { c.ServiceAccessToken = "wrong" }, nil, false, true, 401},
		{"wrong service ID", func(c *authlete.Config) { c.ServiceAPIKey = "1234" }, nil, false, true, 404},
		{"wrong API secret (v2)", func(c *authlete.Config) { *c = srv.ConfigV2(); c.ServiceAPISecret = "wrong" }, nil, false, true, 401},
		{"locked service", func(*authlete.Config) {}, &authletetest.Fault{Status: 403}, false, true, 403},
		{"unreachable", func(c *authlete.Config) { c.BaseURL = closedURL }, nil, false, false, 0},
		{"failing", func(*authlete.Config) {}, &authletetest.Fault{Status: 500}, false, false, 500},
		{"rate limited", func(*authlete.Config) {}, &authletetest.Fault{Status: 429}, false, false, 429},
		{"not Authlete", func(*authlete.Config) {}, &authletetest.Fault{Body: `{"hello":"world"}`}, false, false, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.ClearFaults()
			if tc.fault != nil {
				srv.Inject(*tc.fault)
			}
			cfg := srv.Config()
			tc.cfg(&cfg)
			c, err := authlete.New(cfg)
			require.NoError(t, err)
			before := srv.Calls("")
			err = c.Check(context.Background())
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, 1, srv.Calls("")-before, "one call")
				return
			}
			var ae *authlete.Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.refused, ae.Refused(), "%v", err)
			assert.Equal(t, tc.status, ae.StatusCode)
			assert.Equal(t, "check", ae.Op)
			assert.LessOrEqual(t, srv.Calls("")-before, 1, "never retried")
		})
	}
	assert.Zero(t, srv.Clients(), "no side effect")
}

func TestCheckHanging(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	srv.Inject(authletetest.Fault{Delay: time.Hour})
	cfg := srv.Config()
	cfg.Timeout = 100 * time.Millisecond
	c, err := authlete.New(cfg)
	require.NoError(t, err)
	err = c.Check(context.Background())
	var ae *authlete.Error
	require.ErrorAs(t, err, &ae)
	assert.False(t, ae.Refused())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}
