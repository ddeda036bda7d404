package authletetest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"io"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

var ctx = context.Background()

// info decodes a responseContent.
func info(t *testing.T, resp *authlete.Response) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(resp.ResponseContent), &m), "responseContent %q", resp.ResponseContent)
	return m
}

// register registers metadata and returns the client's information.
func register(t *testing.T, c *authlete.Client, metadata string) map[string]any {
	t.Helper()
	resp, err := c.Register(ctx, &authlete.Request{JSON: metadata})
	require.NoError(t, err)
	require.Equal(t, authlete.ActionCreated, resp.Action, "%s", resp.ResponseContent)
	return info(t, resp)
}

func TestServiceCredentials(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	good := []authlete.Config{srv.Config(), srv.ConfigV2()}
	for _, cfg := range good {
		c, err := authlete.New(cfg)
		require.NoError(t, err)
		resp, err := c.Register(ctx, &authlete.Request{JSON: `{}`})
		require.NoError(t, err, cfg.APIVersion)
		assert.Equal(t, authlete.ActionCreated, resp.Action)
	}
	wrongToken := srv.Config()
	wrongToken.ServiceAccessToken = "stolen"
	wrongSecret := srv.ConfigV2()
	wrongSecret.ServiceAPISecret = "guess"
	otherService := srv.Config()
	otherService.ServiceAPIKey = "999"
	cases := []struct {
		name   string
		cfg    authlete.Config
		status int
	}{
		{"v3 wrong token", wrongToken, 401},
		{"v2 wrong secret", wrongSecret, 401},
		{"v3 other service", otherService, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := authlete.New(tc.cfg)
			require.NoError(t, err)
			_, err = c.Register(ctx, &authlete.Request{JSON: `{}`})
			var ae *authlete.Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.status, ae.StatusCode)
			assert.Regexp(t, `^A\d{6}$`, ae.ResultCode)
			assert.NotEmpty(t, ae.ResultMessage)
		})
	}
	t.Run("no Authorization header", func(t *testing.T) {
		resp, err := http.Post(srv.URL+"/api/"+authletetest.DefaultServiceID+"/client/registration", "application/json", strings.NewReader(`{"json":"{}"}`))
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		assert.Equal(t, 401, resp.StatusCode)
		assert.Equal(t, map[string]string{"resultCode": "A001202", "resultMessage": "[A001202] Authorization header is missing."}, body)
	})
	assert.Equal(t, 2, srv.Calls("register"), "refused calls are not counted")
}

// call sends a raw API v3 call and decodes the JSON answer.
func call(t *testing.T, srv *authletetest.Server, method, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/api/"+authletetest.DefaultServiceID+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+authletetest.DefaultAccessToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(data, &out), string(data))
	return resp.StatusCode, out
}

func registerClient(t *testing.T, srv *authletetest.Server, metadata string) (id, token string) {
	t.Helper()
	resp, err := srv.Client(t).Register(ctx, &authlete.Request{JSON: metadata})
	require.NoError(t, err)
	require.Equal(t, authlete.ActionCreated, resp.Action, resp.ResponseContent)
	var info struct {
		ID    string `json:"client_id"`
		Token string `json:"registration_access_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.ResponseContent), &info))
	return info.ID, info.Token
}
