package authletetest_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// TestTokensAsSpecified: auth/token/create and auth/token/get/list behave
// as Authlete's OpenAPI document describes beyond what its schemas
// validate (../conformance validates those).
func TestTokensAsSpecified(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	a, _ := registerClient(t, srv, `{"client_name":"a"}`)
	b, _ := registerClient(t, srv, `{"client_name":"b","grant_types":["client_credentials"],"response_types":[]}`)

	// A form body, as the specification allows.
	status, created := call(t, srv, "POST", "/auth/token/create", "application/x-www-form-urlencoded",
		url.Values{"grantType": {"AUTHORIZATION_CODE"}, "clientId": {a}, "subject": {"alice"}, "scopes": {"mcp offline_access"}}.Encode())
	require.Equal(t, 200, status)
	assert.Equal(t, "OK", created["action"])
	assert.Equal(t, []any{"mcp", "offline_access"}, created["scopes"])
	assert.NotEmpty(t, created["refreshToken"])

	_, cc := call(t, srv, "POST", "/auth/token/create", "application/json", `{"grantType":"CLIENT_CREDENTIALS","clientId":`+b+`}`)
	assert.Equal(t, "OK", cc["action"])
	assert.NotContains(t, cc, "refreshToken", "RFC 6749 §4.4.3: no refresh token for client credentials")
	assert.NotContains(t, cc, "scopes", "no scopes: absent, never null")

	_, nosub := call(t, srv, "POST", "/auth/token/create", "application/json", `{"grantType":"AUTHORIZATION_CODE","clientId":`+a+`}`)
	assert.Equal(t, "BAD_REQUEST", nosub["action"], "a subject is required but for client credentials")
	_, unknown := call(t, srv, "POST", "/auth/token/create", "application/json", `{"grantType":"MAGIC","clientId":`+a+`,"subject":"x"}`)
	assert.Equal(t, "BAD_REQUEST", unknown["action"])
	call(t, srv, "POST", "/auth/token/create", "application/json", `{"grantType":"AUTHORIZATION_CODE","clientId":`+a+`,"subject":"bob"}`)

	// The list: clientIdentifier is optional, subject filters, each token
	// has its own grant type.
	status, all := call(t, srv, "GET", "/auth/token/get/list", "", "")
	require.Equal(t, 200, status)
	assert.Equal(t, float64(3), all["totalCount"])
	grants := map[string]bool{}
	for _, tok := range all["accessTokens"].([]any) {
		m := tok.(map[string]any)
		grants[m["grantType"].(string)] = true
		if m["grantType"] == "CLIENT_CREDENTIALS" {
			assert.Equal(t, float64(0), m["refreshTokenExpiresAt"])
			assert.NotContains(t, m, "scopes")
		}
	}
	assert.Equal(t, map[string]bool{"AUTHORIZATION_CODE": true, "CLIENT_CREDENTIALS": true}, grants)
	_, alice := call(t, srv, "GET", "/auth/token/get/list?subject=alice", "", "")
	assert.Equal(t, float64(1), alice["totalCount"])
	_, ofA := call(t, srv, "GET", "/auth/token/get/list?clientIdentifier="+a+"&subject=bob", "", "")
	assert.Equal(t, float64(1), ofA["totalCount"])

	// The lock flag from a form.
	status, _ = call(t, srv, "POST", "/client/lock_flag/update/"+a, "application/x-www-form-urlencoded", "clientLocked=true")
	assert.Equal(t, 200, status)
	got, err := srv.Client(t).Admin().GetClient(ctx, a)
	require.NoError(t, err)
	assert.True(t, got.Locked)
}

func TestLimits(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{MaxTokens: 2})
	a, tok := registerClient(t, srv, `{}`)
	c := srv.Client(t)
	for i := 0; i < 2; i++ {
		_, err := authletetest.CreateToken(ctx, srv.Config(), a, "alice", nil)
		require.NoError(t, err)
	}
	_, err := authletetest.CreateToken(ctx, srv.Config(), a, "alice", nil)
	assert.Error(t, err, "MaxTokens")
	require.NoError(t, c.Admin().DeleteClient(ctx, a))
	b, _ := registerClient(t, srv, `{}`)
	_, err = authletetest.CreateToken(ctx, srv.Config(), b, "alice", nil)
	assert.NoError(t, err, "a deleted client's tokens no longer count")

	// The tokens' bytes are bounded too, not only their number.
	srv = authletetest.NewServer(t, authletetest.Options{MaxTokenBytes: 1 << 20})
	c = srv.Client(t)
	a, _ = registerClient(t, srv, `{}`)
	huge := []string{strings.Repeat("s", 300<<10)}
	held := 0
	for i := 0; i < 10; i++ {
		if _, err := authletetest.CreateToken(ctx, srv.Config(), a, "alice", huge); err == nil {
			held++
		}
	}
	assert.Equal(t, 3, held, "1 MB holds three tokens of 300 KB scopes")
	require.NoError(t, c.Admin().DeleteClient(ctx, a))
	a, _ = registerClient(t, srv, `{}`)
	_, err = authletetest.CreateToken(ctx, srv.Config(), a, "alice", huge)
	assert.NoError(t, err, "a deleted client's tokens no longer take bytes")

	big := `{"client_name":"` + strings.Repeat("x", authletetest.MaxMetadataBytes) + `"}`
	resp, err := c.Register(ctx, &authlete.Request{JSON: big})
	require.NoError(t, err)
	assert.Equal(t, authlete.ActionBadRequest, resp.Action)
	assert.Contains(t, resp.ResponseContent, "invalid_client_metadata")
	resp, err = c.Update(ctx, &authlete.Request{ClientID: a, Token: tok, JSON: big})
	require.NoError(t, err)
	assert.NotEqual(t, authlete.ActionUpdated, resp.Action)
}
