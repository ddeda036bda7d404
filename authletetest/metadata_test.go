package authletetest_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"strings"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// TestTaggedMembers: the language-tagged variants of client_name,
// logo_uri, client_uri, policy_uri and tos_uri are kept, as Authlete
// keeps them (the Client's clientNames, logoUris, clientUris, policyUris
// and tosUris, arrays of tagged_value): the client reads them back, the
// client object and client/get hold them, an update replaces them. Those
// of other members are dropped; a wrong type or a URI that is not
// absolute is refused.
func TestTaggedMembers(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	c := srv.Client(t)
	resp, err := c.Register(ctx, &authlete.Request{JSON: `{"redirect_uris":["https://app.example/cb"],"client_name":"Acme",
		"client_name#ja":"アクメ","client_name#en-US":"Acme","logo_uri#en":"https://acme.example/l.png","client_uri#fr":"https://acme.example/fr",
		"policy_uri#de":"https://acme.example/de/policy","tos_uri#fr":"https://acme.example/fr/tos","contacts#ja":["a@acme.example"],"client_name#it":null}`})
	require.NoError(t, err)
	require.Equal(t, authlete.ActionCreated, resp.Action, resp.ResponseContent)
	got := info(t, resp)
	for name, want := range map[string]any{"client_name": "Acme", "client_name#ja": "アクメ", "client_name#en-US": "Acme",
		"logo_uri#en": "https://acme.example/l.png", "client_uri#fr": "https://acme.example/fr",
		"policy_uri#de": "https://acme.example/de/policy", "tos_uri#fr": "https://acme.example/fr/tos"} {
		assert.Equal(t, want, got[name], name)
	}
	assert.NotContains(t, got, "contacts#ja")
	assert.NotContains(t, got, "client_name#it")

	wantObject := map[string]any{
		"clientNames": []any{map[string]any{"tag": "en-US", "value": "Acme"}, map[string]any{"tag": "ja", "value": "アクメ"}},
		"logoUris":    []any{map[string]any{"tag": "en", "value": "https://acme.example/l.png"}},
		"clientUris":  []any{map[string]any{"tag": "fr", "value": "https://acme.example/fr"}},
		"policyUris":  []any{map[string]any{"tag": "de", "value": "https://acme.example/de/policy"}},
		"tosUris":     []any{map[string]any{"tag": "fr", "value": "https://acme.example/fr/tos"}},
	}
	var object map[string]any
	require.NoError(t, json.Unmarshal(resp.Client, &object))
	for k, want := range wantObject {
		assert.Equal(t, want, object[k], k)
	}
	id := got["client_id"].(string)
	req, _ := http.NewRequest("GET", srv.URL+"/api/"+authletetest.DefaultServiceID+"/client/get/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+authletetest.DefaultAccessToken)
	stored, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer stored.Body.Close()
	require.Equal(t, 200, stored.StatusCode)
	var read map[string]any
	require.NoError(t, json.NewDecoder(stored.Body).Decode(&read))
	for k, want := range wantObject {
		assert.Equal(t, want, read[k], "client/get: %s", k)
	}

	token := got["registration_access_token"].(string)
	upd, err := c.Update(ctx, &authlete.Request{ClientID: id, Token: token,
		JSON: `{"client_id":"` + id + `","redirect_uris":["https://app.example/cb"],"client_name#ja":"新しい"}`})
	require.NoError(t, err)
	require.Equal(t, authlete.ActionUpdated, upd.Action, upd.ResponseContent)
	updated := info(t, upd)
	assert.Equal(t, "新しい", updated["client_name#ja"])
	for _, gone := range []string{"client_name", "client_name#en-US", "logo_uri#en", "tos_uri#fr"} {
		assert.NotContains(t, updated, gone, "an update replaces the metadata")
	}

	for doc, name := range map[string]string{
		`{"redirect_uris":["https://app.example/cb"],"client_name#ja":42}`:                "client_name#ja",
		`{"redirect_uris":["https://app.example/cb"],"logo_uri#en":"/l.png"}`:             "logo_uri#en",
		`{"redirect_uris":["https://app.example/cb"],"tos_uri#fr":["https://a.example"]}`: "tos_uri#fr",
	} {
		resp, err := c.Register(ctx, &authlete.Request{JSON: doc})
		require.NoError(t, err)
		assert.Equal(t, authlete.ActionBadRequest, resp.Action, doc)
		assert.Contains(t, resp.ResponseContent, "invalid_client_metadata", doc)
		assert.Contains(t, resp.ResponseContent, name, doc)
	}
}

func TestMetadataValidation(t *testing.T) {
	cases := []struct {
		name, metadata, want string // want: "" for CREATED, else the error code
	}{
		{"not an object", `[]`, "invalid_client_metadata"},
		{"not JSON", `{`, "invalid_client_metadata"},
		{"relative redirect URI", `{"redirect_uris":["/callback"]}`, "invalid_redirect_uri"},
		{"redirect URI with fragment", `{"redirect_uris":["https://a.example/cb#x"]}`, "invalid_redirect_uri"},
		{"redirect URI with space", `{"redirect_uris":["https://a.example/c b"]}`, "invalid_redirect_uri"},
		{"redirect URI not ASCII", `{"redirect_uris":["https://ä.example/cb"]}`, "invalid_redirect_uri"},
		{"redirect URI over 200 characters", `{"redirect_uris":["https://a.example/` + strings.Repeat("x", 200) + `"]}`, "invalid_redirect_uri"},
		{"redirect_uris a string", `{"redirect_uris":"https://a.example/cb"}`, "invalid_redirect_uri"},
		{"code without authorization_code", `{"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"],"response_types":["code"]}`, "invalid_client_metadata"},
		{"authorization_code without code", `{"redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code"],"response_types":["token"]}`, "invalid_client_metadata"},
		{"implicit without token", `{"redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","implicit"],"response_types":["code"]}`, "invalid_client_metadata"},
		{"unknown grant type", `{"grant_types":["magic"]}`, "invalid_client_metadata"},
		{"unknown response type", `{"response_types":["code magic"]}`, "invalid_client_metadata"},
		{"jwks and jwks_uri", `{"jwks":{"keys":[]},"jwks_uri":"https://a.example/jwks"}`, "invalid_client_metadata"},
		{"jwks not a JWK Set", `{"jwks":{"kty":"RSA"}}`, "invalid_client_metadata"},
		{"unsupported auth method", `{"token_endpoint_auth_method":"magic"}`, "invalid_client_metadata"},
		{"bad application_type", `{"application_type":"desktop"}`, "invalid_client_metadata"},
		{"client_name a number", `{"client_name":42}`, "invalid_client_metadata"},
		{"relative logo_uri", `{"logo_uri":"logo.png"}`, "invalid_client_metadata"},

		{"empty object", `{}`, ""},
		{"private-use scheme", `{"redirect_uris":["com.example.app:/callback"],"application_type":"native","token_endpoint_auth_method":"none"}`, ""},
		{"client credentials only", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[]}}`, ""},
		{"hybrid", `{"redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","implicit"],"response_types":["code id_token","token"]}`, ""},
		{"unknown members", `{"resource":"https://mcp.example.com","scope":"","software_statement":"x.y.z","x":{"y":[1,null]}}`, ""},
		{"nulls", `{"client_name":null,"redirect_uris":null}`, ""},
	}
	srv := authletetest.NewServer(t, authletetest.Options{})
	c := srv.Client(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Register(ctx, &authlete.Request{JSON: tc.metadata})
			require.NoError(t, err)
			if tc.want == "" {
				assert.Equal(t, authlete.ActionCreated, resp.Action, resp.ResponseContent)
				return
			}
			assert.Equal(t, authlete.ActionBadRequest, resp.Action)
			got := info(t, resp)
			assert.Equal(t, tc.want, got["error"])
			assert.Regexp(t, `^\[A\d{6}\] .+`, got["error_description"])
			assert.Equal(t, resp.ResultMessage, got["error_description"])
		})
	}
}
