package conformance_test

import (
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/policy"
)

// uriUse is how the authorization server uses a member's URIs, as
// policy.SafeURIs must treat them.
type uriUse string

const (
	redirected  uriUse = "redirected" // any scheme but script schemes
	browsed     uriUse = "browsed"    // https, or http on loopback
	serverSide  uriUse = "serverSide" // https on a public host
	notFollowed uriUse = ""           // never dereferenced by anyone: not SafeURIs' business
)

// clientURIMembers are the properties of Authlete's client schema that
// hold URIs, with the registration member each one is (RFC 7591, OpenID
// Connect and its extensions) and how it is used. A property that holds
// language-tagged values (logoUris) is the member's "#tag" variants.
var clientURIMembers = map[string]struct {
	member string
	use    uriUse
}{
	"redirectUris":            {"redirect_uris", redirected},
	"credentialOfferEndpoint": {"credential_offer_endpoint", redirected},
	"logoUri":                 {"logo_uri", browsed},
	"logoUris":                {"logo_uri", browsed},
	"clientUri":               {"client_uri", browsed},
	"clientUris":              {"client_uri", browsed},
	"policyUri":               {"policy_uri", browsed},
	"policyUris":              {"policy_uri", browsed},
	"tosUri":                  {"tos_uri", browsed},
	"tosUris":                 {"tos_uri", browsed},
	"loginUri":                {"initiate_login_uri", browsed},
	"jwksUri":                 {"jwks_uri", serverSide},
	"signedJwksUri":           {"signed_jwks_uri", serverSide},
	"sectorIdentifierUri":     {"sector_identifier_uri", serverSide},
	"requestUris":             {"request_uris", serverSide},
	"bcNotificationEndpoint":  {"backchannel_client_notification_endpoint", serverSide},

	// Compared with the certificate's subject alternative name, never
	// dereferenced.
	"tlsClientAuthSanUri": {"tls_client_auth_san_uri", notFollowed},
	// Set by Authlete from OpenID Federation or a Client ID Metadata
	// Document, not by a registration request.
	"entityId":                 {"", notFollowed},
	"trustAnchorId":            {"", notFollowed},
	"metadataDocumentLocation": {"", notFollowed},
}

// logoutMembers are the OpenID Connect logout members, which Authlete's
// client schema does not have (Authlete keeps them as custom metadata)
// and SafeURIs checks all the same.
var logoutMembers = map[string]uriUse{
	"post_logout_redirect_uris": redirected,
	"frontchannel_logout_uri":   browsed,
	"backchannel_logout_uri":    serverSide,
}

// TestSafeURIsCoversAuthleteClientSchema: every property of Authlete's
// client schema that holds a URI is known here, and policy.SafeURIs
// treats its registration member as its use requires. A URI property
// that Authlete adds fails this test until it is classified here and in
// policy/uris.go.
func TestSafeURIsCoversAuthleteClientSchema(t *testing.T) {
	doc, err := spec()
	require.NoError(t, err)
	client := doc.Components.Schemas["client"]
	require.NotNil(t, client, "the client schema")
	props := client.Value.Properties
	require.NotEmpty(t, props)

	uriName := regexp.MustCompile(`(Uri|Uris|Endpoint|Location|Id)$`)
	corresponds := regexp.MustCompile("corresponds to (?:the )?`([a-z_]+)`")
	var found []string
	for name, ref := range props {
		s := ref.Value
		desc := strings.ToLower(s.Description)
		holdsURI := s.Format == "uri" || uriName.MatchString(name) &&
			(strings.Contains(desc, "url") || strings.Contains(desc, "uri") || strings.Contains(desc, "endpoint") || strings.Contains(desc, "entity id"))
		if !holdsURI || name == "clientId" || name == "softwareId" || name == "selfSignedCertificateKeyId" || name == "rsSignedRequestKeyId" {
			continue
		}
		found = append(found, name)
		known, ok := clientURIMembers[name]
		if !assert.True(t, ok, "Authlete's client schema has %q, which holds URIs: classify it in policy/uris.go and here", name) {
			continue
		}
		if m := corresponds.FindStringSubmatch(s.Description); m != nil && known.member != "" {
			assert.Equal(t, m[1], known.member, "%s corresponds to %s", name, m[1])
		}
		tagged := s.Type.Is("array") && s.Items != nil && strings.HasSuffix(s.Items.Ref, "/tagged_value")
		checkUse(t, name, known.member, known.use, s.Type.Is("array") && !tagged, tagged)
	}
	sort.Strings(found)
	for name := range clientURIMembers {
		assert.True(t, slices.Contains(found, name), "%s is no longer a URI property of Authlete's client schema", name)
	}
	for member, use := range logoutMembers {
		checkUse(t, member, member, use, strings.HasSuffix(member, "s"), false)
	}
	t.Logf("URI properties of Authlete's client schema: %v", found)
}

// checkUse asks policy.SafeURIs what it does with member, which must be
// what use requires.
func checkUse(t *testing.T, property, member string, use uriUse, array, tagged bool) {
	t.Helper()
	if use == notFollowed {
		return
	}
	if tagged {
		member += "#ja"
	}
	p := policy.SafeURIs(policy.SafeURIOptions{})
	r := httptest.NewRequest("POST", "/register", nil)
	accepts := func(uri string) bool {
		var v any = uri
		if array {
			v = []any{uri}
		}
		return p(r, dcr.Metadata{member: v}) == nil
	}
	want := map[string]bool{
		"javascript:alert(1)":          false,
		"https://example.com/x":        true,
		"http://example.com/x":         use == redirected,
		"http://localhost:3000/x":      use != serverSide,
		"https://127.0.0.1/x":          use != serverSide,
		"https://１２７.0.0.1/x":          use != serverSide,
		"cursor://anysphere/cb":        use == redirected,
		"gopher://127.0.0.1:6379/_x":   use == redirected,
		"https://169.254.169.254/":     use != serverSide,
		"https://user@example.com/x":   use == redirected,
		"https://metadata.internal/x":  use != serverSide,
		"https://[::ffff:127.0.0.1]/x": use != serverSide,
	}
	for uri, accepted := range want {
		assert.Equal(t, accepted, accepts(uri), "%s (%s, %s): %s", member, property, use, uri)
	}
}
