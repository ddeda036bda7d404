package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

func TestServesWhatItPrints(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, authletetest.Options{ServiceID: "42", AccessToken: "tok"}, &out) }()

	// run writes before it serves; a call that reaches it proves both.
	var resp *authlete.Response
	require.Eventually(t, func() bool {
		c, err := authlete.New(authlete.Config{BaseURL: "http://" + ln.Addr().String(), ServiceAPIKey: "42", ServiceAccessToken: "tok"})
		require.NoError(t, err)
		resp, err = c.Register(context.Background(), &authlete.Request{JSON: `{}`})
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, authlete.ActionCreated, resp.Action)
	cancel()
	require.NoError(t, <-done)
	printed := out.String()
	assert.Contains(t, printed, "AUTHLETE_BASE_URL=http://"+ln.Addr().String())
	assert.Regexp(t, regexp.MustCompile(`AUTHLETE_SERVICE_APIKEY=42\n`), printed)
	assert.Contains(t, printed, "AUTHLETE_SERVICE_ACCESSTOKEN=tok")
}
