package authletetest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

func TestRegisterConfidentialClient(t *testing.T) {
	now := time.Unix(1641735467, 0)
	srv := authletetest.NewServer(t, authletetest.Options{
		ManagementEndpoint: "https://as.example.com/dcr/register/",
		Now:                func() time.Time { return now },
	})
	resp, err := srv.Client(t).Register(ctx, &authlete.Request{
		JSON: `{"client_name":"My Dynamic Client","redirect_uris":["https://app.example.com/cb"],"resource":"https://mcp.example.com","scope":""}`})
	require.NoError(t, err)
	assert.Equal(t, authlete.ActionCreated, resp.Action)
	assert.Equal(t, "A202001", resp.ResultCode)
	got := info(t, resp)

	id, _ := got["client_id"].(string)
	assert.Regexp(t, `^[1-9][0-9]{13}$`, id)
	assert.Len(t, got["client_secret"], 86)
	assert.Len(t, got["registration_access_token"], 43)
	for _, k := range []string{"client_id", "client_secret", "registration_access_token"} {
		delete(got, k)
	}
	assert.Equal(t, map[string]any{
		"client_secret_expires_at":   0.0,
		"client_id_issued_at":        1641735467.0,
		"registration_client_uri":    "https://as.example.com/dcr/register/" + id,
		"client_name":                "My Dynamic Client",
		"redirect_uris":              []any{"https://app.example.com/cb"},
		"grant_types":                []any{"authorization_code"},
		"response_types":             []any{"code"},
		"token_endpoint_auth_method": "client_secret_basic",
	}, got, "unknown members and an empty scope are dropped, defaults filled in")

	var object map[string]any
	require.NoError(t, json.Unmarshal(resp.Client, &object))
	assert.Equal(t, id, fmt.Sprintf("%.0f", object["clientId"]), "clientId is a number in the client object")
	assert.Equal(t, "CONFIDENTIAL", object["clientType"])
	assert.Equal(t, "CLIENT_SECRET_BASIC", object["tokenAuthMethod"])
	assert.Equal(t, []any{"AUTHORIZATION_CODE"}, object["grantTypes"])
	assert.Equal(t, true, object["dynamicallyRegistered"])
	assert.Equal(t, 1, srv.Clients())
}

func TestRegisterPublicClient(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	got := register(t, srv.Client(t), `{"redirect_uris":["http://127.0.0.1:33418/callback","http://localhost:6274/oauth/callback"],`+
		`"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"]}`)
	assert.NotContains(t, got, "client_secret")
	assert.NotContains(t, got, "client_secret_expires_at")
	assert.Equal(t, "none", got["token_endpoint_auth_method"])
	assert.Equal(t, []any{"authorization_code", "refresh_token"}, got["grant_types"])
}

func TestReadUpdateDelete(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	c := srv.Client(t)
	reg := register(t, c, `{"client_name":"a","redirect_uris":["https://a.example/cb"],"contacts":["ops@a.example"]}`)
	id, token := reg["client_id"].(string), reg["registration_access_token"].(string)

	resp, err := c.Get(ctx, &authlete.Request{ClientID: id, Token: token})
	require.NoError(t, err)
	assert.Equal(t, authlete.ActionOK, resp.Action)
	assert.Equal(t, "A217001", resp.ResultCode)
	assert.Equal(t, reg, info(t, resp))

	// Full replacement: contacts go, the name changes, the secret stays.
	update := fmt.Sprintf(`{"client_id":%q,"client_secret":%q,"client_name":"b","redirect_uris":["https://b.example/cb"]}`, id, reg["client_secret"])
	resp, err = c.Update(ctx, &authlete.Request{ClientID: id, Token: token, JSON: update})
	require.NoError(t, err)
	assert.Equal(t, authlete.ActionUpdated, resp.Action)
	got := info(t, resp)
	assert.Equal(t, "b", got["client_name"])
	assert.Equal(t, []any{"https://b.example/cb"}, got["redirect_uris"])
	assert.NotContains(t, got, "contacts")
	assert.Equal(t, reg["client_secret"], got["client_secret"])
	assert.Equal(t, token, got["registration_access_token"])

	resp, err = c.Get(ctx, &authlete.Request{ClientID: id, Token: token})
	require.NoError(t, err)
	assert.Equal(t, got, info(t, resp), "the update is what a read returns")

	resp, err = c.Delete(ctx, &authlete.Request{ClientID: id, Token: token})
	require.NoError(t, err)
	assert.Equal(t, &authlete.Response{ResultCode: "A216001", ResultMessage: "[A216001] The client has been deleted.",
		Action: authlete.ActionDeleted}, resp)
	assert.Equal(t, 0, srv.Clients())

	for _, call := range []func(context.Context, *authlete.Request) (*authlete.Response, error){c.Get, c.Delete} {
		resp, err = call(ctx, &authlete.Request{ClientID: id, Token: token})
		require.NoError(t, err)
		assert.Equal(t, authlete.ActionUnauthorized, resp.Action, "a deleted client's token stops working")
	}
}

func TestUpdateRules(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	c := srv.Client(t)
	reg := register(t, c, `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none"}`)
	id, token := reg["client_id"].(string), reg["registration_access_token"].(string)
	cases := []struct {
		name, body string
		action     authlete.Action
		errorCode  string
	}{
		{"no client_id", `{"redirect_uris":["https://a.example/cb"]}`, authlete.ActionBadRequest, "invalid_client_metadata"},
		{"other client_id", `{"client_id":"1","redirect_uris":["https://a.example/cb"]}`, authlete.ActionBadRequest, "invalid_client_metadata"},
		{"registration_access_token", `{"client_id":"` + id + `","registration_access_token":"x"}`, authlete.ActionBadRequest, "invalid_client_metadata"},
		{"registration_client_uri", `{"client_id":"` + id + `","registration_client_uri":"https://x"}`, authlete.ActionBadRequest, "invalid_client_metadata"},
		{"client_secret_expires_at", `{"client_id":"` + id + `","client_secret_expires_at":0}`, authlete.ActionBadRequest, "invalid_client_metadata"},
		{"client_id_issued_at", `{"client_id":"` + id + `","client_id_issued_at":1}`, authlete.ActionBadRequest, "invalid_client_metadata"},
		{"wrong client_secret", `{"client_id":"` + id + `","client_secret":"guess"}`, authlete.ActionBadRequest, "invalid_client_metadata"},
		{"bad redirect", `{"client_id":"` + id + `","redirect_uris":["/cb"]}`, authlete.ActionBadRequest, "invalid_redirect_uri"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Update(ctx, &authlete.Request{ClientID: id, Token: token, JSON: tc.body})
			require.NoError(t, err)
			assert.Equal(t, tc.action, resp.Action)
			assert.Equal(t, tc.errorCode, info(t, resp)["error"])
		})
	}
	// A public client that turns confidential gets a secret.
	resp, err := c.Update(ctx, &authlete.Request{ClientID: id, Token: token,
		JSON: `{"client_id":"` + id + `","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_post"}`})
	require.NoError(t, err)
	require.Equal(t, authlete.ActionUpdated, resp.Action)
	assert.Len(t, info(t, resp)["client_secret"], 86)
	assert.Equal(t, 0.0, info(t, resp)["client_secret_expires_at"])
}

func TestBadTokens(t *testing.T) {
	for _, setting := range []struct {
		name string
		opts authletetest.Options
		want authlete.Action
	}{
		{"unauthorizedOnClientConfigSupported (default)", authletetest.Options{}, authlete.ActionUnauthorized},
		{"setting off", authletetest.Options{BadRequestOnClientConfig: true}, authlete.ActionBadRequest},
	} {
		t.Run(setting.name, func(t *testing.T) {
			srv := authletetest.NewServer(t, setting.opts)
			c := srv.Client(t)
			reg := register(t, c, `{"redirect_uris":["https://a.example/cb"]}`)
			id, token := reg["client_id"].(string), reg["registration_access_token"].(string)
			other := register(t, c, `{"redirect_uris":["https://b.example/cb"]}`)
			for _, req := range []authlete.Request{
				{ClientID: id, Token: "wrong"},
				{ClientID: id},
				{ClientID: "12345678901234", Token: token},
				{ClientID: id, Token: other["registration_access_token"].(string)},
				{Token: token},
			} {
				resp, err := c.Get(ctx, &req)
				require.NoError(t, err)
				assert.Equal(t, setting.want, resp.Action, "%+v", req)
				assert.Equal(t, "invalid_token", info(t, resp)["error"])
				assert.NotContains(t, resp.ResponseContent, token)
			}
		})
	}
}

func TestConcurrentRegistrations(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	c := srv.Client(t)
	const n = 64
	var mu sync.Mutex
	ids := map[string]bool{}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Register(ctx, &authlete.Request{JSON: `{"redirect_uris":["https://a.example/cb"]}`})
			if !assert.NoError(t, err) {
				return
			}
			var got struct {
				ClientID                string `json:"client_id"`
				RegistrationAccessToken string `json:"registration_access_token"`
			}
			assert.NoError(t, json.Unmarshal([]byte(resp.ResponseContent), &got))
			r, err := c.Delete(ctx, &authlete.Request{ClientID: got.ClientID, Token: got.RegistrationAccessToken})
			assert.NoError(t, err)
			assert.Equal(t, authlete.ActionDeleted, r.Action)
			mu.Lock()
			ids[got.ClientID] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	assert.Len(t, ids, n, "client IDs are unique")
	assert.Equal(t, 0, srv.Clients())
	assert.Equal(t, n, srv.Calls("register"))
	assert.Equal(t, 2*n, srv.Calls(""))
}

// TestReadDuringUpdateSeesWholeClient protects against a read that copies
// a client while an update rewrites it: under -race the race is reported,
// and without it a read could return a half-updated client (a secret
// without its expiry, or an auth method without its secret).
func TestReadDuringUpdateSeesWholeClient(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	c := srv.Client(t)
	reg := register(t, c, `{"redirect_uris":["https://a.example/cb"]}`)
	id, token := reg["client_id"].(string), reg["registration_access_token"].(string)
	bodies := []string{
		`{"client_id":"` + id + `","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none"}`,
		`{"client_id":"` + id + `","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`,
	}
	const rounds = 200
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < rounds; i++ {
			_, err := c.Update(ctx, &authlete.Request{ClientID: id, Token: token, JSON: bodies[i%2]})
			assert.NoError(t, err)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < rounds; i++ {
			resp, err := c.Get(ctx, &authlete.Request{ClientID: id, Token: token})
			if !assert.NoError(t, err) || !assert.Equal(t, authlete.ActionOK, resp.Action) {
				return
			}
			got := info(t, resp)
			_, hasSecret := got["client_secret"]
			_, hasExpiry := got["client_secret_expires_at"]
			public := got["token_endpoint_auth_method"] == "none"
			assert.Equal(t, hasSecret, hasExpiry, "a secret comes with its expiry: %v", got)
			assert.Equal(t, !public, hasSecret, "a confidential client has a secret, a public one none: %v", got)
		}
	}()
	wg.Wait()
}

// TestMaxClients protects the emulator's memory: registrations beyond the
// cap are answered as a failure of the service, and a deletion makes room.
func TestMaxClients(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{MaxClients: 2})
	c := srv.Client(t)
	first := register(t, c, `{}`)
	register(t, c, `{}`)
	resp, err := c.Register(ctx, &authlete.Request{JSON: `{}`})
	require.NoError(t, err)
	assert.Equal(t, authlete.ActionInternalServerError, resp.Action)
	assert.Equal(t, "server_error", info(t, resp)["error"])
	assert.Equal(t, 2, srv.Clients())

	_, err = c.Delete(ctx, &authlete.Request{ClientID: first["client_id"].(string), Token: first["registration_access_token"].(string)})
	require.NoError(t, err)
	register(t, c, `{}`)

	assert.Equal(t, authletetest.DefaultMaxClients, authletetest.New(authletetest.Options{}).Options().MaxClients)
	unlimited := authletetest.NewServer(t, authletetest.Options{MaxClients: -1})
	for i := 0; i < 3; i++ {
		register(t, unlimited.Client(t), `{}`)
	}
}

// TestRegistrationAsSpecified: registration behaves as Authlete's OpenAPI
// document describes beyond what its schemas validate (../conformance
// validates those).
func TestRegistrationAsSpecified(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{DuplicateSoftwareIDBlocked: true, DCRScopeUsedAsRequestable: true})
	c := srv.Client(t)
	for _, rt := range []string{"code code", "code id_token code"} {
		resp, err := c.Register(ctx, &authlete.Request{JSON: `{"redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","implicit"],"response_types":["` + rt + `"]}`})
		require.NoError(t, err)
		assert.Equal(t, authlete.ActionBadRequest, resp.Action, rt)
	}

	id, token := registerClient(t, srv, `{"software_id":"mcp-remote","scope":"mcp offline_access"}`)
	resp, err := c.Register(ctx, &authlete.Request{JSON: `{"software_id":"mcp-remote"}`})
	require.NoError(t, err)
	assert.Equal(t, authlete.ActionBadRequest, resp.Action, "dcrDuplicateSoftwareIdBlocked")

	got, err := c.Get(ctx, &authlete.Request{ClientID: id, Token: token})
	require.NoError(t, err)
	assert.Contains(t, got.ResponseContent, `"scope":"mcp offline_access"`, "the registered scope is kept and returned")
	var client struct {
		Extension struct {
			RequestableScopesEnabled bool     `json:"requestableScopesEnabled"`
			RequestableScopes        []string `json:"requestableScopes"`
		} `json:"extension"`
	}
	require.NoError(t, json.Unmarshal(got.Client, &client))
	assert.True(t, client.Extension.RequestableScopesEnabled)
	assert.Equal(t, []string{"mcp", "offline_access"}, client.Extension.RequestableScopes)

	// An update that sends back what it read: its registration_client_uri
	// is accepted; another one is not.
	uri := srv.Options().ManagementEndpoint + "/" + id
	up, err := c.Update(ctx, &authlete.Request{ClientID: id, Token: token, JSON: `{"client_id":"` + id + `","registration_client_uri":"` + uri + `","scope":"mcp"}`})
	require.NoError(t, err)
	assert.Equal(t, authlete.ActionUpdated, up.Action, up.ResponseContent)
	up, err = c.Update(ctx, &authlete.Request{ClientID: id, Token: token, JSON: `{"client_id":"` + id + `","registration_client_uri":"https://evil.example/` + id + `"}`})
	require.NoError(t, err)
	assert.Equal(t, authlete.ActionBadRequest, up.Action)
}
