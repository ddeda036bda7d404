package policy_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/dcrtest"
	"github.com/dcr-go/dcr/policy"
)

// applyPolicy applies the metadata policy doc to the metadata in, and
// returns the result as JSON, or the rejection's code.
func applyPolicy(t *testing.T, doc, in string) (string, dcr.ErrorCode) {
	t.Helper()
	p, err := policy.ParseMetadataPolicy([]byte(doc))
	require.NoError(t, err, doc)
	m := metadata(t, in)
	if err := p.Policy()(httptest.NewRequest("POST", "/register", nil), m); err != nil {
		return "", code(t, err)
	}
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return string(out), ""
}

// TestMetadataPolicyOperators: each operator of OpenID Federation 1.0
// §6.1.3.1, with the scenarios of the specification and of its
// implementers' guides.
func TestMetadataPolicyOperators(t *testing.T) {
	cases := []struct {
		name, policy, in, want string
		code                   dcr.ErrorCode
	}{
		// value sets or overrides, and null removes.
		{"value sets", `{"require_auth_time":{"value":true}}`, `{}`, `{"require_auth_time":true}`, ""},
		{"value overrides", `{"require_auth_time":{"value":true}}`, `{"require_auth_time":false}`, `{"require_auth_time":true}`, ""},
		{"value null removes", `{"initiate_login_uri":{"value":null}}`, `{"initiate_login_uri":"https://example.com/login"}`, `{}`, ""},
		// add appends what is missing, creating the member.
		{"add creates", `{"contacts":{"add":["helpdesk@federation.example.org"]}}`, `{}`, `{"contacts":["helpdesk@federation.example.org"]}`, ""},
		{"add appends", `{"contacts":{"add":["helpdesk@federation.example.org"]}}`, `{"contacts":["rp_admins@cs.example.com"]}`,
			`{"contacts":["rp_admins@cs.example.com","helpdesk@federation.example.org"]}`, ""},
		{"add keeps one copy", `{"contacts":{"add":["a@example.com"]}}`, `{"contacts":["a@example.com"]}`, `{"contacts":["a@example.com"]}`, ""},
		// default fills in what is absent.
		{"default fills in", `{"id_token_signed_response_alg":{"one_of":["ES256","ES384"],"default":"ES256"}}`, `{}`, `{"id_token_signed_response_alg":"ES256"}`, ""},
		{"default leaves a value", `{"id_token_signed_response_alg":{"one_of":["ES256","ES384"],"default":"ES256"}}`, `{"id_token_signed_response_alg":"ES384"}`, `{"id_token_signed_response_alg":"ES384"}`, ""},
		{"default on null", `{"application_type":{"default":"web"}}`, `{"application_type":null}`, `{"application_type":"web"}`, ""},
		// one_of checks a single value.
		{"one_of refuses", `{"id_token_signed_response_alg":{"one_of":["ES256","ES384"]}}`, `{"id_token_signed_response_alg":"RS256"}`, "", dcr.InvalidClientMetadata},
		{"one_of on an absent member", `{"id_token_signed_response_alg":{"one_of":["ES256","ES384"]}}`, `{}`, `{}`, ""},
		// subset_of keeps the intersection, and removes an empty one.
		{"subset_of intersects", `{"response_types":{"subset_of":["code","code id_token"]}}`, `{"response_types":["code","code id_token token"]}`, `{"response_types":["code"]}`, ""},
		{"subset_of empties", `{"response_types":{"subset_of":["code"]}}`, `{"response_types":["token"]}`, `{}`, ""},
		{"an empty subset_of removes", `{"grant_types":{"subset_of":[]}}`, `{"grant_types":["authorization_code"]}`, `{}`, ""},
		{"an empty scope subset_of refuses", `{"scope":{"subset_of":""}}`, `{"scope":"mcp"}`, "", dcr.InvalidClientMetadata},
		{"subset_of and essential", `{"response_types":{"subset_of":["code"],"essential":true}}`, `{"response_types":["token"]}`, "", dcr.InvalidClientMetadata},
		// superset_of checks that every value is there.
		{"superset_of passes", `{"grant_types":{"superset_of":["authorization_code"]}}`, `{"grant_types":["authorization_code","refresh_token"]}`, `{"grant_types":["authorization_code","refresh_token"]}`, ""},
		{"superset_of refuses", `{"grant_types":{"superset_of":["authorization_code"]}}`, `{"grant_types":["client_credentials"]}`, "", dcr.InvalidClientMetadata},
		// essential requires the member.
		{"essential refuses", `{"redirect_uris":{"essential":true}}`, `{}`, "", dcr.InvalidClientMetadata},
		{"essential false", `{"redirect_uris":{"essential":false}}`, `{}`, `{}`, ""},
		// Wrong types in the metadata.
		{"subset_of on a string", `{"grant_types":{"subset_of":["authorization_code"]}}`, `{"grant_types":"authorization_code"}`, "", dcr.InvalidClientMetadata},
		// scope is a list of space-separated values.
		{"scope subset_of", `{"scope":{"subset_of":["mcp","offline_access"]}}`, `{"scope":"mcp admin offline_access"}`, `{"scope":"mcp offline_access"}`, ""},
		{"scope subset_of as a string", `{"scope":{"subset_of":"mcp offline_access"}}`, `{"scope":"admin mcp"}`, `{"scope":"mcp"}`, ""},
		{"scope default", `{"scope":{"subset_of":["mcp","offline_access"],"default":"mcp"}}`, `{}`, `{"scope":"mcp"}`, ""},
		{"scope default on an empty string", `{"scope":{"default":"mcp"}}`, `{"scope":""}`, `{"scope":"mcp"}`, ""},
		// An emptied scope is refused, or gets the default: removed, it
		// would let the client ask for any scope.
		{"scope emptied", `{"scope":{"subset_of":["mcp"]}}`, `{"scope":"admin"}`, "", dcr.InvalidClientMetadata},
		{"scope emptied gets the default", `{"scope":{"subset_of":["mcp","offline_access"],"default":"mcp"}}`, `{"scope":"admin"}`, `{"scope":"mcp"}`, ""},
		{"scope emptied and essential", `{"scope":{"subset_of":["mcp"],"default":"mcp","essential":true}}`, `{"scope":"admin"}`, "", dcr.InvalidClientMetadata},
		{"an emptied member gets the default", `{"response_types":{"subset_of":["code"],"default":["code"]}}`, `{"response_types":["token"]}`, `{"response_types":["code"]}`, ""},
		{"scope superset_of", `{"scope":{"superset_of":["openid"]}}`, `{"scope":"mcp"}`, "", dcr.InvalidClientMetadata},
		{"scope add", `{"scope":{"add":["openid"]}}`, `{"scope":"mcp"}`, `{"scope":"mcp openid"}`, ""},
		{"scope value", `{"scope":{"value":"mcp"}}`, `{"scope":"admin"}`, `{"scope":"mcp"}`, ""},
		{"scope not a string", `{"scope":{"subset_of":["mcp"]}}`, `{"scope":["mcp"]}`, "", dcr.InvalidClientMetadata},
		// The order: value, add, default, one_of, subset_of, superset_of, essential.
		{"default then subset_of", `{"grant_types":{"default":["authorization_code","refresh_token"],"subset_of":["authorization_code","refresh_token"],"superset_of":["authorization_code"],"essential":true}}`,
			`{}`, `{"grant_types":["authorization_code","refresh_token"]}`, ""},
		{"add then subset_of", `{"contacts":{"add":["a@example.com"],"subset_of":["a@example.com","b@example.com"]}}`, `{"contacts":["b@example.com","c@example.com"]}`,
			`{"contacts":["b@example.com","a@example.com"]}`, ""},
		{"numbers compare as numbers", `{"default_max_age":{"one_of":[3600,86400]}}`, `{"default_max_age":3600.0}`, `{"default_max_age":3600.0}`, ""},
		{"the wrapper of a subordinate statement", `{"openid_relying_party":{"scope":{"value":"mcp"}}}`, `{}`, `{"scope":"mcp"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, code := applyPolicy(t, tc.policy, tc.in)
			assert.Equal(t, tc.code, code)
			if tc.code == "" {
				assert.JSONEq(t, tc.want, got)
			}
		})
	}
}

// TestMetadataPolicyRefused: policies that cannot be applied stop with an
// error naming the member and the operator.
func TestMetadataPolicyRefused(t *testing.T) {
	for doc, want := range map[string]string{
		`[]`:                                    "a JSON object",
		`{"scope":"mcp"}`:                       `"scope": not an object of operators`,
		`{"scope":{"subset":["mcp"]}}`:          `member "scope", operator "subset": not an operator`,
		`{"grant_types":{"subset_of":"x"}}`:     `member "grant_types", operator "subset_of": the operand must be an array`,
		`{"grant_types":{"add":true}}`:          `operator "add": the operand must be an array`,
		`{"redirect_uris":{"essential":"y"}}`:   `operator "essential": the operand must be true or false`,
		`{"application_type":{"one_of":[]}}`:    `operator "one_of": the operand must not be empty`,
		`{"application_type":{"default":null}}`: `operator "default": the operand must not be null`,
		`{"grant_types":{"subset_of":["authorization_code"],"superset_of":["authorization_code","refresh_token"]}}`: `member "grant_types", operator "superset_of": ["authorization_code","refresh_token"] is not within subset_of ["authorization_code"]`,
		`{"contacts":{"add":["a@x"],"subset_of":["b@x"]}}`:                                                          `operator "add"`,
		`{"application_type":{"value":"native","one_of":["web"]}}`:                                                  `operator "value": "native" is not one of ["web"]`,
		`{"grant_types":{"value":["implicit"],"subset_of":["authorization_code"]}}`:                                 `operator "value"`,
		`{"grant_types":{"value":["implicit"],"superset_of":["authorization_code"]}}`:                               `operator "value"`,
		`{"contacts":{"value":["a@x"],"add":["b@x"]}}`:                                                              `operator "value"`,
		`{"redirect_uris":{"value":null,"essential":true}}`:                                                         `operator "value": null removes`,
		`{"application_type":{"value":null,"default":"web"}}`:                                                       `operator "default"`,
		`{"application_type":{"one_of":["web"],"default":"native"}}`:                                                `operator "default": "native" is not one of ["web"]`,
		`{"scope":{"subset_of":["mcp"],"default":"admin"}}`:                                                         `member "scope", operator "default"`,
		`{"grant_types":{"superset_of":["authorization_code"],"default":["refresh_token"]}}`:                        `operator "default"`,
		`{"grant_types":{"one_of":["a"],"subset_of":["a"]}}`:                                                        `operator "one_of": cannot be combined`,
		`{"scope":{"value":"","essential":true}}`:                                                                   `member "scope", operator "value": null removes`,
		`{"scope":{"default":" "}}`:                                                                                 `member "scope", operator "default": the operand must not be empty`,
		`{"scope":{"one_of":["mcp","openid"]}}`:                                                                     `member "scope", operator "one_of": scope is a list of space-separated values`,
	} {
		_, err := policy.ParseMetadataPolicy([]byte(doc))
		if assert.Error(t, err, doc) {
			assert.Contains(t, err.Error(), want, doc)
		}
	}
}

func TestMetadataPolicyDiff(t *testing.T) {
	a, err := policy.ParseMetadataPolicy([]byte(`{"scope":{"subset_of":["mcp","offline_access"],"default":"mcp"},"grant_types":{"essential":true}}`))
	require.NoError(t, err)
	same, err := policy.ParseMetadataPolicy([]byte(`{"openid_relying_party":{"grant_types":{"essential":true},"scope":{"default":"mcp","subset_of":"offline_access mcp"}}}`))
	require.NoError(t, err)
	assert.True(t, a.Equal(same), "%v", a.Diff(same))
	other, err := policy.ParseMetadataPolicy([]byte(`{"scope":{"subset_of":["mcp"]},"token_endpoint_auth_method":{"one_of":["none"]}}`))
	require.NoError(t, err)
	assert.Equal(t, []string{
		`grant_types essential: true here, none there`,
		`scope default: ["mcp"] here, none there`,
		`scope subset_of: ["mcp","offline_access"] here, ["mcp"] there`,
		`token_endpoint_auth_method one_of: none here, ["none"] there`,
	}, a.Diff(other))
	assert.False(t, a.Equal(other))
}

// mcpMetadataPolicy is example/testdata/mcp-metadata-policy.json, the
// policy README.md and docs/policies.md show for MCP clients.
const mcpMetadataPolicy = `{
  "scope": {"subset_of": ["mcp", "offline_access"], "default": "mcp"},
  "grant_types": {"default": ["authorization_code", "refresh_token"], "subset_of": ["authorization_code", "refresh_token"],
                  "superset_of": ["authorization_code"], "essential": true},
  "response_types": {"default": ["code"], "subset_of": ["code"]},
  "token_endpoint_auth_method": {"default": "none", "one_of": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]}
}`

// TestMetadataPolicyMCPScope: the documented MCP policy registers mcp for
// a client that asks for admin, admin and mcp, or nothing; never no scope.
func TestMetadataPolicyMCPScope(t *testing.T) {
	for in, want := range map[string]string{
		`{"scope":"admin"}`:                      "mcp",
		`{"scope":"admin mcp"}`:                  "mcp",
		`{}`:                                     "mcp",
		`{"scope":""}`:                           "mcp",
		`{"scope":null}`:                         "mcp",
		`{"scope":"offline_access admin"}`:       "offline_access",
		`{"scope":"mcp offline_access mcp"}`:     "mcp offline_access",
		`{"scope":"admin openid profile email"}`: "mcp",
	} {
		got, code := applyPolicy(t, mcpMetadataPolicy, in)
		require.Empty(t, code, in)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(got), &m))
		assert.Equal(t, want, m["scope"], in)
	}
}

// TestMetadataPolicyTaggedMembers: a language-tagged member is governed by
// its member's policy; value removes every tagged variant.
func TestMetadataPolicyTaggedMembers(t *testing.T) {
	const doc = `{"client_name":{"one_of":["Acme App"]},"logo_uri":{"value":null},"tos_uri":{"value":"https://acme.example/tos"},
		"contacts":{"subset_of":["a@acme.example","b@acme.example"]},"scope":{"subset_of":["mcp"],"default":"mcp"}}`
	cases := []struct {
		name, in, want string
		code           dcr.ErrorCode
	}{
		{"a tagged name outside one_of", `{"client_name":"Acme App","client_name#ja":"Evil"}`, "", dcr.InvalidClientMetadata},
		{"a tagged name alone", `{"client_name#en":"Evil"}`, "", dcr.InvalidClientMetadata},
		{"an empty tag", `{"client_name#":"Evil"}`, "", dcr.InvalidClientMetadata},
		{"a tagged name within one_of", `{"client_name#en":"Acme App"}`, `{"client_name#en":"Acme App","scope":"mcp","tos_uri":"https://acme.example/tos"}`, ""},
		{"value null removes tagged variants", `{"logo_uri":"https://evil.example/l.png","logo_uri#en":"https://evil.example/en.png","logo_uri#ja-Jpan-JP":"https://evil.example/ja.png"}`,
			`{"scope":"mcp","tos_uri":"https://acme.example/tos"}`, ""},
		{"value removes tagged variants", `{"tos_uri#fr":"https://evil.example/tos"}`, `{"scope":"mcp","tos_uri":"https://acme.example/tos"}`, ""},
		{"subset_of on a tagged variant", `{"contacts#ja":["a@acme.example","evil@evil.example"]}`, `{"contacts#ja":["a@acme.example"],"scope":"mcp","tos_uri":"https://acme.example/tos"}`, ""},
		{"a tagged variant of the wrong type", `{"contacts#ja":"a@acme.example"}`, "", dcr.InvalidClientMetadata},
		{"a tagged scope is no scope", `{"scope#ja":"admin"}`, `{"scope":"mcp","tos_uri":"https://acme.example/tos"}`, ""},
		{"other members are not variants", `{"client_names":"Evil","client_name_ja":"Evil"}`, `{"client_names":"Evil","client_name_ja":"Evil","scope":"mcp","tos_uri":"https://acme.example/tos"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, code := applyPolicy(t, doc, tc.in)
			assert.Equal(t, tc.code, code)
			if tc.code == "" {
				assert.JSONEq(t, tc.want, got)
			}
		})
	}
}

// storedClient is Authlete's Client object for id, as the emulator holds
// it: what reached Authlete.
func storedClient(t *testing.T, srv *dcrtest.Server, id string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.AuthleteURL+"/api/"+authletetest.DefaultServiceID+"/client/get/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+authletetest.DefaultAccessToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var client map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&client))
	return client
}

// TestMetadataPolicyWhatReachesAuthlete, through the handler and the
// emulator, which keeps language-tagged members as Authlete does: a
// tagged name outside one_of is refused before Authlete is called, a
// tagged logo the policy removes is not registered, a tagged name within
// one_of is, and the MCP policy registers mcp, which is what the client
// may then request, for a client asking admin.
func TestMetadataPolicyWhatReachesAuthlete(t *testing.T) {
	p, err := policy.ParseMetadataPolicy([]byte(`{"client_name":{"one_of":["Acme App"]},"logo_uri":{"value":null},
		"scope":{"subset_of":["mcp","offline_access"],"default":"mcp"}}`))
	require.NoError(t, err)
	srv := dcrtest.NewServer(t, dcrtest.Options{Emulator: authletetest.Options{DCRScopeUsedAsRequestable: true},
		Handler: dcr.Options{Policies: []dcr.Policy{p.Policy()}}})
	post := func(body string) (int, map[string]any) {
		resp, err := http.Post(srv.RegistrationEndpoint, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	for _, body := range []string{
		`{"redirect_uris":["https://app.example/cb"],"client_name":"Acme App","client_name#ja":"Claude"}`,
		`{"redirect_uris":["https://app.example/cb"],"client_name#en":"Claude"}`,
	} {
		status, out := post(body)
		assert.Equal(t, 400, status, body)
		assert.Equal(t, string(dcr.InvalidClientMetadata), out["error"], body)
	}
	assert.Zero(t, srv.Authlete.Calls("register"), "refused before Authlete")

	status, out := post(`{"redirect_uris":["https://app.example/cb"],"client_name#ja":"Acme App","logo_uri#en":"https://evil.example/l.png","scope":"admin"}`)
	require.Equal(t, 201, status, out)
	assert.Equal(t, "Acme App", out["client_name#ja"])
	assert.NotContains(t, out, "logo_uri#en")
	assert.Equal(t, "mcp", out["scope"])
	stored := storedClient(t, srv, out["client_id"].(string))
	assert.Equal(t, []any{map[string]any{"tag": "ja", "value": "Acme App"}}, stored["clientNames"])
	assert.NotContains(t, stored, "logoUris")
	assert.Equal(t, []any{"mcp"}, stored["extension"].(map[string]any)["requestableScopes"])
}
