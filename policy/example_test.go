package policy_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/policy"
)

func ExampleNativeLoopback() {
	m := dcr.Metadata{"client_name": "Claude Code", "redirect_uris": []any{"http://localhost:54545/callback"}}
	policy.NativeLoopback()(httptest.NewRequest("POST", "/register", nil), m)
	fmt.Println(m["application_type"])
	// Output: native
}

func ExampleRedirectURIHosts() {
	p := policy.RedirectURIHosts("localhost", "127.0.0.1", "*.example.com")
	err := p(httptest.NewRequest("POST", "/register", nil), dcr.Metadata{"redirect_uris": []any{"https://evil.test/cb"}})
	fmt.Println(err)
	// Output: dcr: rejected: invalid_redirect_uri: The host of the redirect URI "https://evil.test/cb" is not allowed.
}

func ExampleAllowedScopes() {
	r := httptest.NewRequest("POST", "/register", nil)
	for _, m := range []dcr.Metadata{{"scope": "mcp admin"}, {}} {
		policy.AllowedScopes("mcp", "offline_access")(r, m) // drop what is not allowed
		policy.DefaultScope("mcp")(r, m)                    // then give those left with none the default
		fmt.Println(m["scope"])
	}
	// Output:
	// mcp
	// mcp
}

func ExampleReservedNames() {
	p := policy.ReservedNames(map[string][]string{"Claude": {"claude.ai", "*.claude.ai"}})
	r := httptest.NewRequest("POST", "/register", nil)
	for _, name := range []string{"Claude", "Сlaude", "Cla\u200bude Desktop", "claude code", "Clauder", "My client"} {
		err := p(r, dcr.Metadata{"client_name": name, "redirect_uris": []any{"https://evil.example/cb"}})
		fmt.Printf("%q: %v\n", name, err != nil)
	}
	// Output:
	// "Claude": true
	// "Сlaude": true
	// "Cla\u200bude Desktop": true
	// "claude code": true
	// "Clauder": false
	// "My client": false
}

func ExampleSafeURIs() {
	p := policy.SafeURIs(policy.SafeURIOptions{})
	r := httptest.NewRequest("POST", "/register", nil)
	for _, m := range []dcr.Metadata{
		{"redirect_uris": []any{"https://app.example.com/cb"}, "jwks_uri": "https://app.example.com/jwks.json"},
		{"redirect_uris": []any{"javascript:alert(document.cookie)"}},
		{"jwks_uri": "https://169.254.169.254/latest/meta-data/"},
	} {
		fmt.Println(p(r, m))
	}
	// Output:
	// <nil>
	// dcr: rejected: invalid_redirect_uri: The value "javascript:alert(document.cookie)" of "redirect_uris" uses the javascript: scheme, which is never allowed.
	// dcr: rejected: invalid_client_metadata: The value "https://169.254.169.254/latest/meta-data/" of "jwks_uri" names an address of the server's own network; the authorization server itself sends requests to it.
}

// A metadata policy for MCP clients: the scopes the server serves, the
// authorization code flow with refresh tokens, and the authentication
// methods of public and confidential clients.
func ExampleParseMetadataPolicy() {
	p, err := policy.ParseMetadataPolicy([]byte(`{
		"scope": {"subset_of": ["mcp", "offline_access"], "default": "mcp"},
		"grant_types": {"default": ["authorization_code", "refresh_token"], "subset_of": ["authorization_code", "refresh_token"],
			"superset_of": ["authorization_code"], "essential": true},
		"token_endpoint_auth_method": {"one_of": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]}
	}`))
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("POST", "/register", nil)
	m := dcr.Metadata{"scope": "mcp admin", "redirect_uris": []any{"http://localhost:6274/cb"}}
	fmt.Println(p.Policy()(r, m), m["scope"], m["grant_types"])
	fmt.Println(p.Policy()(r, dcr.Metadata{"grant_types": []any{"client_credentials"}}))

	_, err = policy.ParseMetadataPolicy([]byte(`{"grant_types": {"subset_of": ["authorization_code"], "superset_of": ["refresh_token"]}}`))
	fmt.Println(err)
	// Output:
	// <nil> mcp [authorization_code refresh_token]
	// dcr: rejected: invalid_client_metadata: The value of "grant_types" violates the subset_of policy: none of its values is in ["authorization_code","refresh_token"], and it is required
	// policy: metadata policy member "grant_types", operator "superset_of": ["refresh_token"] is not within subset_of ["authorization_code"]
}
