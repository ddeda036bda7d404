package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBlackBoxSoftwareStatements: with DCR_SOFTWARE_STATEMENT_ISSUERS and
// _REQUIRED, the built example registers a client whose statement a
// trusted issuer signed, with the statement's claims winning, and refuses
// the others with the codes of RFC 7591 §3.2.2. Keys and JWKS are made
// here.
func TestBlackBoxSoftwareStatements(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Use: "sig"}}})
	}))
	defer jwks.Close()
	sign := func(k *ecdsa.PrivateKey, claims map[string]any) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		require.NoError(t, err)
		payload, _ := json.Marshal(claims)
		jws, err := signer.Sign(payload)
		require.NoError(t, err)
		out, _ := jws.CompactSerialize()
		return out
	}
	// An issuer whose JWKS is down.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	const iss, downIss = "https://issuer.example", "https://down.example"
	base, p := startExampleBinary(t, []string{"DCR_SOFTWARE_STATEMENT_ISSUERS=" + iss + "=" + jwks.URL + "/jwks.json," + downIss + "=" + down.URL + "/jwks.json",
		"DCR_SOFTWARE_STATEMENT_REQUIRED=true"}, "")
	defer func() {
		if t.Failed() {
			t.Log(p.out.String())
		}
	}()
	register := func(statement string) response {
		body, _ := json.Marshal(map[string]any{"software_statement": statement, "client_name": "I say so", "client_name#ja": "Not the partner",
			"redirect_uris": []string{"https://app.example/cb"}})
		return send(t, "POST", base+"/register", "", string(body))
	}
	good := register(sign(key, map[string]any{"iss": iss, "iat": time.Now().Unix(), "software_id": "partner-app", "client_name": "Partner App"}))
	require.Equal(t, 201, good.status, good.raw)
	assert.Equal(t, "Partner App", good.body["client_name"], "the statement's claims win")
	assert.Equal(t, "partner-app", good.body["software_id"])
	assert.NotContains(t, good.body, "client_name#ja", "over the request's tagged names too")
	stored := send(t, "GET", good.body["registration_client_uri"].(string), good.body["registration_access_token"].(string), "")
	require.Equal(t, 200, stored.status, stored.raw)
	assert.Equal(t, "Partner App", stored.body["client_name"])
	assert.NotContains(t, stored.body, "client_name#ja", "what Authlete holds")

	// The issuer's keys cannot be had: 503 with Retry-After, which a
	// client retries, not a 400 it takes as final.
	outage := register(sign(key, map[string]any{"iss": downIss, "iat": time.Now().Unix()}))
	assert.Equal(t, 503, outage.status, outage.raw)
	assert.Equal(t, "temporarily_unavailable", outage.body["error"])
	assert.NotEmpty(t, outage.header.Get("Retry-After"))
	// Claims count by their exact names.
	caseVariant := register(sign(key, map[string]any{"iss": "https://evil.example", "ISS": iss, "iat": time.Now().Unix()}))
	assert.Equal(t, "invalid_software_statement", caseVariant.body["error"], caseVariant.raw)

	missing := send(t, "POST", base+"/register", "", `{"redirect_uris":["https://app.example/cb"]}`)
	assert.Equal(t, "invalid_software_statement", missing.body["error"], missing.raw)
	untrusted := register(sign(key, map[string]any{"iss": "https://evil.example", "iat": time.Now().Unix()}))
	assert.Equal(t, "unapproved_software_statement", untrusted.body["error"], untrusted.raw)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := register(sign(other, map[string]any{"iss": iss, "iat": time.Now().Unix()}))
	assert.Equal(t, "invalid_software_statement", forged.body["error"], forged.raw)
	old := register(sign(key, map[string]any{"iss": iss, "iat": time.Now().Add(-72 * time.Hour).Unix()}))
	assert.Equal(t, "invalid_software_statement", old.body["error"], old.raw)
	// The statement's claims pass the other policies too.
	phishing := register(sign(key, map[string]any{"iss": iss, "iat": time.Now().Unix(), "client_name": "Claude"}))
	assert.Equal(t, "invalid_client_metadata", phishing.body["error"], phishing.raw)
}
