package authletetest_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
