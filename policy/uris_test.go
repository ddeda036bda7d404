package policy_test

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/policy"
)

func TestSafeURIs(t *testing.T) {
	r := httptest.NewRequest("POST", "/register", nil)
	p := policy.SafeURIs(policy.SafeURIOptions{})
	const mcp = `"redirect_uris":["http://localhost:6274/oauth/callback"]`
	cases := []struct{ name, doc, want string }{
		{"an MCP client", `{` + mcp + `,"client_uri":"https://github.com/modelcontextprotocol/inspector","logo_uri":"https://cdn.example/logo.png"}`, ""},
		{"RFC 7591 example", `{"redirect_uris":["https://client.example.org/callback"],"jwks_uri":"https://client.example.org/my_public_keys.jwks","logo_uri":"https://client.example.org/logo.png"}`, ""},
		{"private-use redirect", `{"redirect_uris":["cursor://anysphere.cursor-retrieval/oauth/callback","com.example.app:/cb"]}`, ""},
		{"http info on loopback", `{` + mcp + `,"client_uri":"http://localhost:6274/","logo_uri":"http://127.0.0.1/logo.png"}`, ""},
		{"null members", `{"jwks_uri":null,"redirect_uris":null,"logo_uri":null}`, ""},
		{"public IPv4 literal", `{"jwks_uri":"https://8.8.8.8/jwks"}`, ""},
		{"public name that looks numeric", `{"jwks_uri":"https://1e100.net/jwks"}`, ""},

		{"javascript redirect", `{"redirect_uris":["javascript:alert(1)"]}`, dcr.InvalidRedirectURI},
		{"JavaScript in capitals after blanks", `{"redirect_uris":["  JaVaScRiPt:alert(1)"]}`, dcr.InvalidRedirectURI},
		{"javascript with a tab inside", `{"redirect_uris":["java\tscript:alert(1)"]}`, dcr.InvalidRedirectURI},
		{"data client_uri", `{"client_uri":"data:text/html,<script>alert(1)</script>"}`, dcr.InvalidClientMetadata},
		{"vbscript initiate_login_uri", `{"initiate_login_uri":"vbscript:msgbox(1)"}`, dcr.InvalidClientMetadata},
		{"file policy_uri", `{"policy_uri":"file:///etc/passwd"}`, dcr.InvalidClientMetadata},
		{"javascript in a localized tos_uri", `{"tos_uri#ja":"javascript:alert(1)"}`, dcr.InvalidClientMetadata},
		{"javascript post-logout redirect", `{"post_logout_redirect_uris":["javascript:alert(1)"]}`, dcr.InvalidClientMetadata},
		{"data logout uri", `{"frontchannel_logout_uri":"data:,x"}`, dcr.InvalidClientMetadata},

		{"http jwks_uri", `{"jwks_uri":"http://client.example.org/jwks"}`, dcr.InvalidClientMetadata},
		{"loopback jwks_uri", `{"jwks_uri":"https://127.0.0.1/jwks"}`, dcr.InvalidClientMetadata},
		{"localhost jwks_uri", `{"jwks_uri":"https://localhost:8443/jwks"}`, dcr.InvalidClientMetadata},
		{"a .localhost name", `{"jwks_uri":"https://admin.localhost/jwks"}`, dcr.InvalidClientMetadata},
		{"RFC 1918", `{"jwks_uri":"https://10.0.0.5/jwks"}`, dcr.InvalidClientMetadata},
		{"192.168", `{"sector_identifier_uri":"https://192.168.1.1/s.json"}`, dcr.InvalidClientMetadata},
		{"cloud metadata", `{"jwks_uri":"https://169.254.169.254/latest/meta-data/"}`, dcr.InvalidClientMetadata},
		{"unspecified", `{"jwks_uri":"https://0.0.0.0/jwks"}`, dcr.InvalidClientMetadata},
		{"CGNAT", `{"jwks_uri":"https://100.64.1.1/jwks"}`, dcr.InvalidClientMetadata},
		{"IPv6 loopback", `{"jwks_uri":"https://[::1]/jwks"}`, dcr.InvalidClientMetadata},
		{"IPv6 unique local", `{"jwks_uri":"https://[fd00::1]/jwks"}`, dcr.InvalidClientMetadata},
		{"IPv6 link-local", `{"jwks_uri":"https://[fe80::1]/jwks"}`, dcr.InvalidClientMetadata},
		{"IPv4-mapped loopback", `{"jwks_uri":"https://[::ffff:127.0.0.1]/jwks"}`, dcr.InvalidClientMetadata},
		{"short form 127.1", `{"jwks_uri":"https://127.1/jwks"}`, dcr.InvalidClientMetadata},
		{"hexadecimal", `{"jwks_uri":"https://0x7f.0.0.1/jwks"}`, dcr.InvalidClientMetadata},
		{"one decimal number", `{"jwks_uri":"https://2130706433/jwks"}`, dcr.InvalidClientMetadata},
		{"octal", `{"jwks_uri":"https://0177.0.0.1/jwks"}`, dcr.InvalidClientMetadata},
		{"trailing dot", `{"jwks_uri":"https://localhost./jwks"}`, dcr.InvalidClientMetadata},
		{"an empty part", `{"jwks_uri":"https://10..1/jwks"}`, dcr.InvalidClientMetadata},
		{"request_uris internal", `{"request_uris":["https://example.com/r","https://10.1.1.1/r"]}`, dcr.InvalidClientMetadata},
		{"relative jwks_uri", `{"jwks_uri":"/jwks"}`, dcr.InvalidClientMetadata},

		{"http logo", `{"logo_uri":"http://cdn.example/logo.png"}`, dcr.InvalidClientMetadata},
		{"http client_uri on a LAN", `{"client_uri":"http://192.168.1.1/"}`, dcr.InvalidClientMetadata},
		{"localized http tos_uri", `{"tos_uri#de":"http://example.com/agb"}`, dcr.InvalidClientMetadata},

		{"jwks_uri not a string", `{"jwks_uri":["https://example.com"]}`, dcr.InvalidClientMetadata},
		{"redirect_uris not an array", `{"redirect_uris":"javascript:alert(1)"}`, dcr.InvalidClientMetadata},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, code(t, p(r, metadata(t, tc.doc))), tc.doc)
		})
	}
}

func TestSafeURIsInfoOnRedirectHost(t *testing.T) {
	r := httptest.NewRequest("POST", "/register", nil)
	p := policy.SafeURIs(policy.SafeURIOptions{InfoOnRedirectHost: true})
	const redirect = `"redirect_uris":["https://app.example.com/cb"]`
	assert.Empty(t, code(t, p(r, metadata(t, `{`+redirect+`,"logo_uri":"https://app.example.com/logo.png","tos_uri#fr":"https://APP.example.com/cgu"}`))))
	assert.Equal(t, dcr.InvalidClientMetadata, code(t, p(r, metadata(t, `{`+redirect+`,"logo_uri":"https://cdn.example.net/logo.png"}`))))
	assert.Equal(t, dcr.InvalidClientMetadata, code(t, p(r, metadata(t, `{"policy_uri":"https://app.example.com/p"}`))), "no redirect URI")
	assert.Empty(t, code(t, p(r, metadata(t, `{`+redirect+`,"jwks_uri":"https://keys.example.net/jwks"}`))), "jwks_uri is not shown to users")
}
