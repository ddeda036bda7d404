package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBlackBoxSSRFFindings: the findings of issue 21 against the built
// example, which runs policy.SafeURIs by default. Each URI reaches the
// server's own network through a client that maps hosts as browsers,
// curl and Go's net/http do; each is refused in every member the
// authorization server fetches or posts to, on registration (POST) and
// on update (PUT), and a public URI in the same member still passes.
func TestBlackBoxSSRFFindings(t *testing.T) {
	t.Parallel()
	base, _ := startExampleBinary(t, []string{"DCR_RATE_LIMIT=100000", "DCR_MANAGEMENT_RATE_LIMIT=100000"}, "") // its log is printed on failure
	const redirect = `"redirect_uris":["https://app.example/cb"]`
	reg := send(t, "POST", base+"/register", "", `{`+redirect+`}`)
	require.Equal(t, 201, reg.status, reg.raw)
	clientID, token := reg.body["client_id"].(string), reg.body["registration_access_token"].(string)

	members := []string{"jwks_uri", "sector_identifier_uri", "request_uris", "backchannel_logout_uri",
		"backchannel_client_notification_endpoint", "signed_jwks_uri"}
	doc := func(member, uri string, withID bool) string {
		var v any = uri
		if member == "request_uris" {
			v = []string{uri}
		}
		m := map[string]any{"redirect_uris": []string{"https://app.example/cb"}, member: v}
		if withID {
			m["client_id"] = clientID
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	for _, uri := range []string{
		// Unicode hosts that map to 127.0.0.1 and localhost.
		"https://127。0。0。1/", "https://127．0．0．1/", "https://１２７.0.0.1/",
		"https://127%E3%80%820%E3%80%820%E3%80%821/", "https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", "https://ｌｏｃａｌｈｏｓｔ/",
		// What the server posts to, in other schemes.
		"http://169.254.169.254/latest/meta-data/", "gopher://127.0.0.1:6379/_FLUSHALL", "dict://127.0.0.1:11211/stats",
		"https://169.254.169.254/latest/meta-data/",
		// Userinfo, notations, trailing dots, brackets, zones.
		"https://evil@127.0.0.1/", "https://user@example.com/", "https://2130706433/", "https://0x7f.1/",
		"https://0177.0.0.1/", "https://127.1/", "https://127.0.0.1../", "https://localhost../", "https://foo.localhost/",
		"https://[fec0::1]/", "https://[::ffff:7f00:1]/", "https://[64:ff9b::a9fe:a9fe]/", "https://[2002:7f00:1::1]/",
		"https://[fe80::1%25eth0]/", "https://metadata.google.internal/computeMetadata/v1/",
	} {
		for _, member := range members {
			got := send(t, "POST", base+"/register", "", doc(member, uri, false))
			assert.Equal(t, 400, got.status, "POST %s %s: %s", member, uri, got.raw)
			assert.Equal(t, "invalid_client_metadata", got.body["error"], "POST %s %s", member, uri)
			got = send(t, "PUT", base+"/register/"+clientID, token, doc(member, uri, true))
			assert.Equal(t, 400, got.status, "PUT %s %s: %s", member, uri, got.raw)
			assert.Equal(t, "invalid_client_metadata", got.body["error"], "PUT %s %s", member, uri)
		}
	}
	for _, member := range members {
		ok := send(t, "POST", base+"/register", "", doc(member, "https://app.example/keys", false))
		assert.Equal(t, 201, ok.status, "%s: %s", member, ok.raw)
		ok = send(t, "PUT", base+"/register/"+clientID, token, doc(member, "https://bücher.example/keys", true))
		assert.Equal(t, 200, ok.status, "%s: %s", member, ok.raw)
	}
}
