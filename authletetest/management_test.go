package authletetest_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// The client management calls, over real HTTP through package authlete,
// with API v3 and v2.
func TestClientManagement(t *testing.T) {
	now := time.UnixMilli(1795000000000)
	srv := authletetest.NewServer(t, authletetest.Options{Now: func() time.Time { return now }})
	for _, cfg := range []authlete.Config{srv.Config(), srv.ConfigV2()} {
		t.Run(string(cfg.APIVersion), func(t *testing.T) {
			c, err := authlete.New(cfg)
			require.NoError(t, err)
			var ids []string
			for i := 0; i < 7; i++ {
				ids = append(ids, register(t, c, `{"client_name":"c`+strconv.Itoa(i)+`"}`)["client_id"].(string))
			}

			// Paging, in registration order.
			var listed []string
			for start := 0; ; start += 3 {
				page, err := c.Admin().ListClients(ctx, start, start+3)
				require.NoError(t, err)
				assert.Equal(t, 7, page.TotalCount)
				for _, cl := range page.Clients {
					listed = append(listed, strconv.FormatInt(cl.ClientID, 10))
					assert.True(t, cl.DynamicallyRegistered)
					assert.Equal(t, now.UnixMilli(), cl.CreatedAt)
				}
				if len(page.Clients) < 3 {
					break
				}
			}
			assert.Equal(t, ids, listed)

			got, err := c.Admin().GetClient(ctx, ids[0])
			require.NoError(t, err)
			assert.Equal(t, "c0", got.ClientName)
			assert.False(t, got.Locked)

			// Lock: no token, no configuration read; unlock restores both.
			reg := register(t, c, `{}`)
			id, rat := reg["client_id"].(string), reg["registration_access_token"].(string)
			require.NoError(t, c.Admin().LockClient(ctx, id, true))
			got, err = c.Admin().GetClient(ctx, id)
			require.NoError(t, err)
			assert.True(t, got.Locked)
			resp, err := c.Get(ctx, &authlete.Request{ClientID: id, Token: rat})
			require.NoError(t, err)
			assert.Equal(t, authlete.ActionUnauthorized, resp.Action, "a locked client cannot read its configuration")
			resp, err = c.Update(ctx, &authlete.Request{ClientID: id, Token: rat, JSON: `{"client_id":"` + id + `"}`})
			require.NoError(t, err)
			assert.Equal(t, authlete.ActionUnauthorized, resp.Action, "nor update it")
			_, err = authletetest.CreateToken(ctx, cfg, id, "alice", nil)
			assert.Error(t, err, "a locked client gets no token")
			require.NoError(t, c.Admin().LockClient(ctx, id, false))
			resp, err = c.Get(ctx, &authlete.Request{ClientID: id, Token: rat})
			require.NoError(t, err)
			assert.Equal(t, authlete.ActionOK, resp.Action)

			// Tokens.
			tok, err := authletetest.CreateToken(ctx, cfg, id, "alice", []string{"mcp"})
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)
			tokens, err := c.Admin().ListTokens(ctx, id, 0, 10)
			require.NoError(t, err)
			require.Len(t, tokens.AccessTokens, 1)
			assert.Equal(t, id, strconv.FormatInt(tokens.AccessTokens[0].ClientID, 10))
			assert.True(t, tokens.AccessTokens[0].Live(now.UnixMilli()))
			assert.False(t, tokens.AccessTokens[0].Live(now.Add(25*time.Hour).UnixMilli()))

			// Delete: the client and its tokens go.
			require.NoError(t, c.Admin().DeleteClient(ctx, id))
			_, err = c.Admin().GetClient(ctx, id)
			var ae *authlete.Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, 404, ae.StatusCode)
			tokens, err = c.Admin().ListTokens(ctx, id, 0, 10)
			require.NoError(t, err)
			assert.Empty(t, tokens.AccessTokens)
			require.ErrorAs(t, c.Admin().DeleteClient(ctx, id), &ae)
			assert.Equal(t, 404, ae.StatusCode)
			resp, err = c.Get(ctx, &authlete.Request{ClientID: id, Token: rat})
			require.NoError(t, err)
			assert.Equal(t, authlete.ActionUnauthorized, resp.Action, "a deleted client's registration access token is refused")
			for _, id := range ids {
				require.NoError(t, c.Admin().DeleteClient(ctx, id))
			}
		})
	}
}

func TestService(t *testing.T) {
	for _, tc := range []struct {
		opts authletetest.Options
		want authlete.Service
	}{
		{authletetest.Options{ManagementEndpoint: "https://as.example/register"}, authlete.Service{
			DynamicRegistrationSupported: true, UnauthorizedOnClientConfigSupported: true, LoopbackRedirectionURIVariable: true,
			RegistrationEndpoint: "https://as.example/register", RegistrationManagementEndpoint: "https://as.example/register"}},
		{authletetest.Options{ManagementEndpoint: "https://as.example/dcr", NoDynamicRegistration: true, BadRequestOnClientConfig: true, FixedLoopbackPort: true},
			authlete.Service{RegistrationEndpoint: "https://as.example/dcr", RegistrationManagementEndpoint: "https://as.example/dcr"}},
		{authletetest.Options{ManagementEndpoint: "https://as.example/r", DCRScopeUsedAsRequestable: true, DuplicateSoftwareIDBlocked: true,
			CIMD: authletetest.CIMDSettings{Supported: true, HTTPAliasProhibited: true, HTTPPermitted: true, QueryPermitted: true,
				AllowlistEnabled: true, Allowlist: []string{"claude.ai"}, MetadataPolicyEnabled: true, MetadataPolicy: `{"scope":{"subset_of":["mcp"]}}`}},
			authlete.Service{DynamicRegistrationSupported: true, UnauthorizedOnClientConfigSupported: true, LoopbackRedirectionURIVariable: true,
				RegistrationEndpoint: "https://as.example/r", RegistrationManagementEndpoint: "https://as.example/r",
				DCRScopeUsedAsRequestable: true, DCRDuplicateSoftwareIDBlocked: true, ClientIDMetadataDocumentSupported: true,
				HTTPAliasProhibited: true, CIMDHTTPPermitted: true, CIMDQueryPermitted: true, CIMDAllowlistEnabled: true,
				CIMDAllowlist: []string{"claude.ai"}, CIMDMetadataPolicyEnabled: true, CIMDMetadataPolicy: `{"scope":{"subset_of":["mcp"]}}`}},
	} {
		srv := authletetest.NewServer(t, tc.opts)
		for _, cfg := range []authlete.Config{srv.Config(), srv.ConfigV2()} {
			c, err := authlete.New(cfg)
			require.NoError(t, err)
			svc, err := c.Admin().Service(ctx)
			require.NoError(t, err)
			want := tc.want
			want.APIKey, want.ServiceName = 21653835348762, "Authlete emulator"
			assert.Equal(t, want, *svc)
		}
		if tc.opts.NoDynamicRegistration {
			resp, err := srv.Client(t).Register(ctx, &authlete.Request{JSON: `{}`})
			require.NoError(t, err)
			assert.Equal(t, authlete.ActionBadRequest, resp.Action, "registration is off")
		}
	}
}

func TestManagementRefusals(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	cfg := srv.Config()
	cfg.ServiceAccessToken = "wrong"
	c, err := authlete.New(cfg)
	require.NoError(t, err)
	_, err = c.Admin().ListClients(ctx, 0, 5)
	var ae *authlete.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 401, ae.StatusCode)
	assert.True(t, ae.Refused())

	srv.Inject(authletetest.Fault{Op: "service/get", Status: 403})
	_, err = srv.Client(t).Admin().Service(ctx)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 403, ae.StatusCode)
	assert.Equal(t, "get service", ae.Op)
	assert.Equal(t, 1, srv.Calls("service/get"))

	_, err = srv.Client(t).Admin().ListClients(ctx, 5, 2)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 400, ae.StatusCode, "end before start")
}

func TestClientNumbersNeverRepeat(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	c := srv.Client(t)
	var ids []string
	for i := 0; i < 4; i++ {
		id, _ := registerClient(t, srv, `{}`)
		ids = append(ids, id)
	}
	require.NoError(t, c.Admin().DeleteClient(ctx, ids[1]))
	registerClient(t, srv, `{}`)
	seen := map[int64]bool{}
	for start := 0; start < 4; start += 2 {
		page, err := c.Admin().ListClients(ctx, start, start+2)
		require.NoError(t, err)
		for _, cl := range page.Clients {
			assert.False(t, seen[cl.ClientID], "client %d on two pages", cl.ClientID)
			seen[cl.ClientID] = true
		}
	}
	assert.Len(t, seen, 4, "no client missed")
}
