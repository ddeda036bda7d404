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
	cases := []struct {
		name, doc string
		want      dcr.ErrorCode
	}{
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

		// Findings of issue 21: Unicode hosts that clients map to 127.0.0.1.
		{"ideographic full stops", `{"jwks_uri":"https://127。0。0。1/"}`, dcr.InvalidClientMetadata},
		{"fullwidth full stops", `{"sector_identifier_uri":"https://127．0．0．1/"}`, dcr.InvalidClientMetadata},
		{"fullwidth digits", `{"request_uris":["https://１２７.0.0.1/"]}`, dcr.InvalidClientMetadata},
		{"percent-encoded ideographic full stops", `{"jwks_uri":"https://127%E3%80%820%E3%80%820%E3%80%821/"}`, dcr.InvalidClientMetadata},
		{"enclosed alphanumerics", `{"jwks_uri":"https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/"}`, dcr.InvalidClientMetadata},
		{"fullwidth localhost", `{"request_uris":["https://ｌｏｃａｌｈｏｓｔ/"]}`, dcr.InvalidClientMetadata},
		{"fullwidth hexadecimal", `{"jwks_uri":"https://０ｘ７ｆ.1/"}`, dcr.InvalidClientMetadata},
		// Findings: the members the server posts to, and allowed schemes.
		{"backchannel logout to metadata", `{"backchannel_logout_uri":"http://169.254.169.254/latest/"}`, dcr.InvalidClientMetadata},
		{"CIBA notification to gopher", `{"backchannel_client_notification_endpoint":"gopher://127.0.0.1:6379/_FLUSHALL"}`, dcr.InvalidClientMetadata},
		{"dict backchannel logout", `{"backchannel_logout_uri":"dict://127.0.0.1:11211/stats"}`, dcr.InvalidClientMetadata},
		{"https backchannel logout on a LAN", `{"backchannel_logout_uri":"https://10.0.0.1/logout"}`, dcr.InvalidClientMetadata},
		{"public backchannel logout", `{"backchannel_logout_uri":"https://rp.example.com/logout"}`, ""},
		{"signed_jwks_uri internal", `{"signed_jwks_uri":"https://[::1]/jwks.jwt"}`, dcr.InvalidClientMetadata},
		{"gopher jwks_uri", `{"jwks_uri":"gopher://example.com/"}`, dcr.InvalidClientMetadata},
		{"ftp logo", `{"logo_uri":"ftp://cdn.example/logo.png"}`, dcr.InvalidClientMetadata},
		{"http initiate_login_uri", `{"initiate_login_uri":"http://rp.example.com/login"}`, dcr.InvalidClientMetadata},
		{"http front-channel logout", `{"frontchannel_logout_uri":"http://rp.example.com/logout"}`, dcr.InvalidClientMetadata},
		{"front-channel logout on loopback", `{"frontchannel_logout_uri":"http://localhost:3000/logout"}`, ""},
		{"javascript credential offer", `{"credential_offer_endpoint":"javascript:alert(1)"}`, dcr.InvalidClientMetadata},
		// Findings: userinfo, notations, brackets, zones, percent-encoding.
		{"userinfo before a public host", `{"jwks_uri":"https://user@example.com/jwks"}`, dcr.InvalidClientMetadata},
		{"userinfo before loopback", `{"jwks_uri":"https://evil@127.0.0.1/"}`, dcr.InvalidClientMetadata},
		{"userinfo in a logo", `{"logo_uri":"https://user:pass@cdn.example/logo.png"}`, dcr.InvalidClientMetadata},
		{"a backslash", `{"jwks_uri":"https://example.com/a\\b"}`, dcr.InvalidClientMetadata},
		{"two trailing dots on an address", `{"jwks_uri":"https://127.0.0.1../"}`, dcr.InvalidClientMetadata},
		{"two trailing dots on localhost", `{"jwks_uri":"https://localhost../"}`, dcr.InvalidClientMetadata},
		{"an empty label in a name", `{"logo_uri":"https://cdn..example/logo.png"}`, dcr.InvalidClientMetadata},
		{"a trailing dot on a public name", `{"jwks_uri":"https://example.com./jwks"}`, ""},
		{"a fullwidth colon", `{"jwks_uri":"https://example.com：443/jwks"}`, dcr.InvalidClientMetadata},
		{"a zone", `{"jwks_uri":"https://[2606:4700::1%25eth0]/jwks"}`, dcr.InvalidClientMetadata},
		{"a zone in a logo", `{"logo_uri":"https://[2606:4700::1%25eth0]/logo.png"}`, dcr.InvalidClientMetadata},
		{"ASCII percent-encoding", `{"jwks_uri":"https://%31%32%37.0.0.1/"}`, dcr.InvalidClientMetadata},
		{"a name that does not map", `{"jwks_uri":"https://a\u200db.example/"}`, dcr.InvalidClientMetadata},
		{"ends in a number, not an address", `{"jwks_uri":"https://foo.123/"}`, dcr.InvalidClientMetadata},
		{"five parts", `{"jwks_uri":"https://1.2.3.4.5/"}`, dcr.InvalidClientMetadata},
		{"an octal part with 8", `{"jwks_uri":"https://1.2.3.08/"}`, dcr.InvalidClientMetadata},
		{"a part over 255", `{"jwks_uri":"https://8.256.8.8/"}`, dcr.InvalidClientMetadata},
		{"a last part too large", `{"jwks_uri":"https://8.8.65536/"}`, dcr.InvalidClientMetadata},
		{"over 32 bits", `{"jwks_uri":"https://4294967296/"}`, dcr.InvalidClientMetadata},
		{"a hexadecimal name part", `{"jwks_uri":"https://8.8.8.0xg/"}`, ""},
		{"0x alone is 0", `{"jwks_uri":"https://0x/"}`, dcr.InvalidClientMetadata},
		{"public in two parts", `{"jwks_uri":"https://8.526344/"}`, ""},
		{"capital 0X", `{"jwks_uri":"https://0X7F.1/"}`, dcr.InvalidClientMetadata},
		{"one hexadecimal number", `{"jwks_uri":"https://0x7f000001/"}`, dcr.InvalidClientMetadata},
		// Names and IPv6 ranges that reach the server's own network.
		{"a name under localhost", `{"jwks_uri":"https://foo.localhost/"}`, dcr.InvalidClientMetadata},
		{"a single label", `{"jwks_uri":"https://metadata/computeMetadata/v1/"}`, dcr.InvalidClientMetadata},
		{"GCP metadata", `{"jwks_uri":"https://metadata.google.internal/"}`, dcr.InvalidClientMetadata},
		{"a Kubernetes service", `{"jwks_uri":"https://redis.default.svc/"}`, dcr.InvalidClientMetadata},
		{"home.arpa", `{"jwks_uri":"https://nas.home.arpa/"}`, dcr.InvalidClientMetadata},
		{"a name ending in arpa", `{"jwks_uri":"https://example.arpa/"}`, ""},
		{"site-local", `{"jwks_uri":"https://[fec0::1]/"}`, dcr.InvalidClientMetadata},
		{"IPv4-compatible", `{"jwks_uri":"https://[::127.0.0.1]/"}`, dcr.InvalidClientMetadata},
		{"NAT64 of loopback", `{"jwks_uri":"https://[64:ff9b::7f00:1]/"}`, dcr.InvalidClientMetadata},
		{"NAT64 of a public address", `{"jwks_uri":"https://[64:ff9b::808:808]/"}`, ""},
		{"local-use NAT64", `{"jwks_uri":"https://[64:ff9b:1::808:808]/"}`, dcr.InvalidClientMetadata},
		{"6to4 of metadata", `{"jwks_uri":"https://[2002:a9fe:a9fe::1]/"}`, dcr.InvalidClientMetadata},
		{"6to4 of a public address", `{"jwks_uri":"https://[2002:808:808::1]/"}`, ""},
		{"Teredo", `{"jwks_uri":"https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/"}`, dcr.InvalidClientMetadata},
		{"IPv6 documentation", `{"jwks_uri":"https://[2001:db8::1]/"}`, dcr.InvalidClientMetadata},
		{"IPv6 multicast", `{"jwks_uri":"https://[ff02::1]/"}`, dcr.InvalidClientMetadata},
		{"public IPv6", `{"jwks_uri":"https://[2606:4700:4700::1111]/"}`, ""},
		{"IPv4 documentation", `{"jwks_uri":"https://192.0.2.1/"}`, dcr.InvalidClientMetadata},
		{"benchmarking", `{"jwks_uri":"https://198.18.0.1/"}`, dcr.InvalidClientMetadata},
		{"broadcast", `{"jwks_uri":"https://255.255.255.255/"}`, dcr.InvalidClientMetadata},
		{"a relative logo", `{"logo_uri":"/logo.png"}`, dcr.InvalidClientMetadata},
		{"fullwidth http logo on loopback", `{"logo_uri":"http://ｌｏｃａｌｈｏｓｔ:3000/logo.png"}`, ""},

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
	assert.Empty(t, code(t, p(r, metadata(t, `{`+redirect+`,"logo_uri":"https://ａｐｐ.example.com/logo.png"}`))), "the host as clients read it")
	assert.Equal(t, dcr.InvalidClientMetadata, code(t, p(r, metadata(t, `{"redirect_uris":["cursor://app.example.com/cb"],"client_uri":"https://app.example.net/"}`))))
}

// BenchmarkSafeURIs is SafeURIs' share of a registration, with and
// without InfoOnRedirectHost.
//
//	go test -run X -bench SafeURIs -benchmem
func BenchmarkSafeURIs(b *testing.B) {
	b.Run("default", func(b *testing.B) { benchPolicy(b, policy.SafeURIs(policy.SafeURIOptions{})) })
	b.Run("info-on-redirect-host", func(b *testing.B) {
		benchPolicy(b, policy.SafeURIs(policy.SafeURIOptions{InfoOnRedirectHost: true}))
	})
}
