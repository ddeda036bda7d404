package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	mcpgo "github.com/mark3labs/mcp-go/client/transport"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var ctx = context.Background()

// The official MCP Go SDK: oauthex.RegisterClient.
func TestMCPGoSDK(t *testing.T) {
	s := startStack(t, "")
	t.Run("confidential client", func(t *testing.T) {
		got, err := oauthex.RegisterClient(ctx, s.RegistrationEndpoint(), &oauthex.ClientRegistrationMetadata{
			ClientName:   "go-sdk confidential",
			RedirectURIs: []string{"https://app.example.com/callback"},
			GrantTypes:   []string{"authorization_code", "refresh_token"},
		}, nil)
		require.NoError(t, err)
		assert.Regexp(t, `^\d{14}$`, got.ClientID)
		assert.NotEmpty(t, got.ClientSecret)
		assert.Equal(t, "client_secret_basic", got.TokenEndpointAuthMethod)
		assert.Equal(t, []string{"https://app.example.com/callback"}, got.RedirectURIs)
		assert.Equal(t, "go-sdk confidential", got.ClientName)
		assert.False(t, got.ClientIDIssuedAt.IsZero())
	})
	t.Run("public loopback client", func(t *testing.T) {
		got, err := oauthex.RegisterClient(ctx, s.RegistrationEndpoint(), &oauthex.ClientRegistrationMetadata{
			ClientName:              "go-sdk desktop",
			RedirectURIs:            []string{"http://127.0.0.1:33418/callback", "http://localhost:33418/callback"},
			TokenEndpointAuthMethod: "none",
			Scope:                   "mcp:tools",
		}, nil)
		require.NoError(t, err)
		assert.Empty(t, got.ClientSecret)
		assert.Equal(t, "none", got.TokenEndpointAuthMethod)
		assert.Equal(t, "mcp:tools", got.Scope)
		assert.Len(t, got.RedirectURIs, 2)
	})
	t.Run("rejected redirect URI", func(t *testing.T) {
		_, err := oauthex.RegisterClient(ctx, s.RegistrationEndpoint(), &oauthex.ClientRegistrationMetadata{
			RedirectURIs: []string{"https://app.example.com/callback#fragment"},
		}, nil)
		var regErr *oauthex.ClientRegistrationError
		require.ErrorAs(t, err, &regErr)
		assert.Equal(t, "invalid_redirect_uri", regErr.ErrorCode)
		assert.NotEmpty(t, regErr.ErrorDescription)
	})
	t.Run("rejected metadata", func(t *testing.T) {
		_, err := oauthex.RegisterClient(ctx, s.RegistrationEndpoint(), &oauthex.ClientRegistrationMetadata{
			RedirectURIs:  []string{"https://app.example.com/callback"},
			ResponseTypes: []string{"token"}, // without the implicit grant
		}, nil)
		var regErr *oauthex.ClientRegistrationError
		require.ErrorAs(t, err, &regErr)
		assert.Equal(t, "invalid_client_metadata", regErr.ErrorCode)
	})
}

// The SDK types jwks as a string, so it sends a JWK Set as a JSON string
// where RFC 7591 §2 wants an object. The client is wrong; the case is kept:
// the registration is refused with invalid_client_metadata, and a client
// that needs keys must use jwks_uri.
func TestMCPGoSDKSendsJWKSAsString(t *testing.T) {
	s := startStack(t, "")
	_, err := oauthex.RegisterClient(ctx, s.RegistrationEndpoint(), &oauthex.ClientRegistrationMetadata{
		RedirectURIs:            []string{"https://app.example.com/callback"},
		TokenEndpointAuthMethod: "private_key_jwt",
		JWKS:                    `{"keys":[]}`,
	}, nil)
	var regErr *oauthex.ClientRegistrationError
	require.ErrorAs(t, err, &regErr)
	assert.Equal(t, "invalid_client_metadata", regErr.ErrorCode)

	got, err := oauthex.RegisterClient(ctx, s.RegistrationEndpoint(), &oauthex.ClientRegistrationMetadata{
		RedirectURIs:            []string{"https://app.example.com/callback"},
		TokenEndpointAuthMethod: "private_key_jwt",
		JWKSURI:                 "https://app.example.com/jwks.json",
	}, nil)
	require.NoError(t, err, "the workaround: jwks_uri")
	assert.Equal(t, "https://app.example.com/jwks.json", got.JWKSURI)
}

func TestMCPGoSDKWithInitialAccessToken(t *testing.T) {
	s := startStack(t, "iat-go-sdk")
	meta := &oauthex.ClientRegistrationMetadata{RedirectURIs: []string{"http://127.0.0.1:8765/callback"}, TokenEndpointAuthMethod: "none"}

	// The SDK has no option for an initial access token; an *http.Client does it.
	got, err := oauthex.RegisterClient(ctx, s.RegistrationEndpoint(), meta, &http.Client{Transport: bearerTransport("iat-go-sdk")})
	require.NoError(t, err)
	assert.NotEmpty(t, got.ClientID)

	_, err = oauthex.RegisterClient(ctx, s.RegistrationEndpoint(), meta, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "401", "without the token the registration is refused")
}

// mark3labs/mcp-go: OAuthHandler.RegisterClient.
func TestMCPGo(t *testing.T) {
	s := startStack(t, "")
	t.Run("public client", func(t *testing.T) {
		// No scopes: mcp-go sends "scope": "".
		h := mcpgo.NewOAuthHandler(mcpgo.OAuthConfig{
			RedirectURI:           "http://localhost:8085/oauth/callback",
			AuthServerMetadataURL: s.MetadataURL(),
			PKCEEnabled:           true,
		})
		require.NoError(t, h.RegisterClient(ctx, "mcp-go public"))
		assert.Regexp(t, `^\d{14}$`, h.GetClientID())
		assert.Empty(t, h.GetClientSecret())
		assert.Equal(t, "none", h.GetTokenEndpointAuthMethod())
	})
	t.Run("confidential client", func(t *testing.T) {
		h := mcpgo.NewOAuthHandler(mcpgo.OAuthConfig{
			RedirectURI:           "http://127.0.0.1:8085/oauth/callback",
			AuthServerMetadataURL: s.MetadataURL(),
			ClientSecret:          "placeholder", // asks for client_secret_post
			Scopes:                []string{"mcp:tools", "mcp:resources"},
		})
		require.NoError(t, h.RegisterClient(ctx, "mcp-go confidential"))
		assert.NotEmpty(t, h.GetClientID())
		assert.NotEqual(t, "placeholder", h.GetClientSecret(), "the issued secret replaces the placeholder")
		assert.Len(t, h.GetClientSecret(), 86)
		assert.Equal(t, "client_secret_post", h.GetTokenEndpointAuthMethod())
	})
	t.Run("rejected redirect URI", func(t *testing.T) {
		h := mcpgo.NewOAuthHandler(mcpgo.OAuthConfig{
			RedirectURI:           "callback", // not absolute
			AuthServerMetadataURL: s.MetadataURL(),
		})
		err := h.RegisterClient(ctx, "mcp-go bad")
		var oauthErr mcpgo.OAuthError
		require.ErrorAs(t, err, &oauthErr)
		assert.Equal(t, "invalid_redirect_uri", oauthErr.ErrorCode)
		assert.Empty(t, h.GetClientID())
	})
	t.Run("with an initial access token", func(t *testing.T) {
		s := startStack(t, "iat-mcp-go")
		h := mcpgo.NewOAuthHandler(mcpgo.OAuthConfig{
			RedirectURI:           "http://localhost:8085/oauth/callback",
			AuthServerMetadataURL: s.MetadataURL(),
			HTTPClient:            &http.Client{Transport: bearerTransport("iat-mcp-go")},
		})
		require.NoError(t, h.RegisterClient(ctx, "mcp-go with token"))
		assert.NotEmpty(t, h.GetClientID())

		denied := mcpgo.NewOAuthHandler(mcpgo.OAuthConfig{RedirectURI: "http://localhost:8085/oauth/callback", AuthServerMetadataURL: s.MetadataURL()})
		err := denied.RegisterClient(ctx, "mcp-go without token")
		var oauthErr mcpgo.OAuthError
		require.ErrorAs(t, err, &oauthErr)
		assert.Equal(t, "invalid_token", oauthErr.ErrorCode)
	})
}

// Our own RFC 7592 round trip: register → read → update → delete → read again.
func TestRFC7592RoundTrip(t *testing.T) {
	s := startStack(t, "")
	// No client library here speaks RFC 7592: plain HTTP does.
	raw := postJSON(t, s.RegistrationEndpoint(), `{"client_name":"round trip","redirect_uris":["http://127.0.0.1:9000/cb"],"token_endpoint_auth_method":"none"}`)
	uri, token, id := raw["registration_client_uri"].(string), raw["registration_access_token"].(string), raw["client_id"].(string)
	assert.Equal(t, s.RegistrationEndpoint()+"/"+id, uri)

	status, header, body := call(t, "GET", uri, token, "")
	assert.Equal(t, 200, status)
	assert.Equal(t, "no-store", header.Get("Cache-Control"))
	assert.Equal(t, "round trip", body["client_name"])

	status, _, body = call(t, "PUT", uri, token, fmt.Sprintf(`{"client_id":%q,"client_name":"renamed","redirect_uris":["http://127.0.0.1:9000/cb"],"token_endpoint_auth_method":"none"}`, id))
	assert.Equal(t, 200, status)
	assert.Equal(t, "renamed", body["client_name"])

	status, header, _ = call(t, "DELETE", uri, token, "")
	assert.Equal(t, 204, status)
	assert.Empty(t, header.Get("Content-Type"))

	status, header, body = call(t, "GET", uri, token, "")
	assert.Equal(t, 401, status)
	assert.Equal(t, `Bearer error="invalid_token"`, header.Get("WWW-Authenticate"))
	assert.Equal(t, "invalid_token", body["error"])
}

func postJSON(t *testing.T, url, body string) map[string]any {
	t.Helper()
	status, _, got := call(t, "POST", url, "", body)
	require.Equal(t, 201, status)
	return got
}

func call(t *testing.T, method, url, token, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var got map[string]any
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &got), "%s", data)
	}
	return resp.StatusCode, resp.Header, got
}
