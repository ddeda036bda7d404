package softwarestatement_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/softwarestatement"
)

// issuer is a software statement issuer: keys, and its JWKS over HTTP.
type issuer struct {
	mu      sync.Mutex
	keys    map[string]crypto.Signer // by kid
	fetches atomic.Int32
	down    atomic.Bool
	srv     *httptest.Server
}

func newIssuer(t *testing.T) *issuer {
	is := &issuer{keys: map[string]crypto.Signer{}}
	is.addKey(t, "ec-1")
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		if is.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		is.mu.Lock()
		defer is.mu.Unlock()
		var set jose.JSONWebKeySet
		for kid, k := range is.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: kid, Use: "sig"})
		}
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) addKey(t *testing.T, kid string) {
	var k crypto.Signer
	var err error
	if kid[:2] == "rs" {
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	require.NoError(t, err)
	is.mu.Lock()
	is.keys[kid] = k
	is.mu.Unlock()
}

// sign signs claims with the key kid, with alg (ES256 or RS256 by the
// key), or with the key given.
func (is *issuer) sign(t *testing.T, kid string, claims map[string]any) string {
	is.mu.Lock()
	k := is.keys[kid]
	is.mu.Unlock()
	alg := jose.ES256
	if _, ok := k.(*rsa.PrivateKey); ok {
		alg = jose.RS256
	}
	return signWith(t, jose.SigningKey{Algorithm: alg, Key: k}, kid, claims)
}

func signWith(t *testing.T, key jose.SigningKey, kid string, claims map[string]any) string {
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	require.NoError(t, err)
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	out, err := jws.CompactSerialize()
	require.NoError(t, err)
	return out
}

const iss = "https://issuer.example"

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func claims(extra map[string]any) map[string]any {
	c := map[string]any{"iss": iss, "iat": now.Add(-time.Hour).Unix(), "software_id": "4NRB1-0XZABZI9E6-5SM3R",
		"client_name": "Example Statement-based Client", "client_uri": "https://client.example.net/"}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func newVerifier(t *testing.T, is *issuer, opts softwarestatement.Options) *softwarestatement.Verifier {
	if opts.Issuers == nil {
		opts.Issuers = map[string]string{iss: is.srv.URL + "/jwks.json"}
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	v, err := softwarestatement.New(opts)
	require.NoError(t, err)
	return v
}

func verifyCode(t *testing.T, v *softwarestatement.Verifier, statement string, m dcr.Metadata) string {
	t.Helper()
	err := v.Verify(context.Background(), statement, m)
	if err == nil {
		return ""
	}
	var pe *dcr.PolicyError
	require.ErrorAs(t, err, &pe)
	return pe.Code
}

func TestVerify(t *testing.T) {
	is := newIssuer(t)
	is.addKey(t, "rs-1")
	v := newVerifier(t, is, softwarestatement.Options{})

	m := dcr.Metadata{"client_name": "I say so myself", "redirect_uris": []any{"https://client.example.net/cb"}}
	require.Empty(t, verifyCode(t, v, is.sign(t, "ec-1", claims(nil)), m))
	assert.Equal(t, "Example Statement-based Client", m["client_name"], "the statement's claims win")
	assert.Equal(t, "4NRB1-0XZABZI9E6-5SM3R", m["software_id"])
	assert.Equal(t, []any{"https://client.example.net/cb"}, m["redirect_uris"], "the request's other members stay")
	assert.NotContains(t, m, "iss")
	assert.NotContains(t, m, "iat")
	assert.Empty(t, verifyCode(t, v, is.sign(t, "rs-1", claims(nil)), dcr.Metadata{}), "RS256")

	other := newIssuer(t)
	for name, tc := range map[string]struct {
		statement, code string
	}{
		"untrusted issuer":     {is.sign(t, "ec-1", claims(map[string]any{"iss": "https://evil.example"})), dcr.UnapprovedSoftwareStatement},
		"another issuer's key": {other.sign(t, "ec-1", claims(nil)), dcr.InvalidSoftwareStatement},
		"no iat":               {is.sign(t, "ec-1", claims(map[string]any{"iat": nil})), dcr.InvalidSoftwareStatement},
		"iat in the future":    {is.sign(t, "ec-1", claims(map[string]any{"iat": now.Add(time.Hour).Unix()})), dcr.InvalidSoftwareStatement},
		"too old":              {is.sign(t, "ec-1", claims(map[string]any{"iat": now.Add(-48 * time.Hour).Unix()})), dcr.InvalidSoftwareStatement},
		"expired":              {is.sign(t, "ec-1", claims(map[string]any{"exp": now.Add(-time.Hour).Unix()})), dcr.InvalidSoftwareStatement},
		"not yet valid":        {is.sign(t, "ec-1", claims(map[string]any{"nbf": now.Add(time.Hour).Unix()})), dcr.InvalidSoftwareStatement},
		"iat not a number":     {is.sign(t, "ec-1", claims(map[string]any{"iat": "yesterday"})), dcr.InvalidSoftwareStatement},
		"not a JWS":            {"eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIn0.", dcr.InvalidSoftwareStatement},
		"HS256 with the public key as secret": {signWith(t, jose.SigningKey{Algorithm: jose.HS256, Key: []byte("a-secret-anyone-could-know-0123456789")}, "ec-1", claims(nil)),
			dcr.InvalidSoftwareStatement},
		"garbage": {"not.a.jwt", dcr.InvalidSoftwareStatement},
	} {
		assert.Equal(t, tc.code, verifyCode(t, v, tc.statement, dcr.Metadata{}), name)
	}
	// Within the leeway.
	assert.Empty(t, verifyCode(t, v, is.sign(t, "ec-1", claims(map[string]any{"iat": now.Add(30 * time.Second).Unix()})), dcr.Metadata{}))
}

// TestKeyRotation: a key ID the cache does not know fetches the JWKS
// again, at most once per 30 s; a JWKS that is down leaves the cached keys.
func TestKeyRotation(t *testing.T) {
	is := newIssuer(t)
	clock := now
	v := newVerifier(t, is, softwarestatement.Options{Now: func() time.Time { return clock }})
	require.Empty(t, verifyCode(t, v, is.sign(t, "ec-1", claims(nil)), dcr.Metadata{}))
	require.Empty(t, verifyCode(t, v, is.sign(t, "ec-1", claims(nil)), dcr.Metadata{}))
	assert.Equal(t, int32(1), is.fetches.Load(), "cached")

	is.addKey(t, "ec-2")
	clock = clock.Add(time.Minute)
	assert.Empty(t, verifyCode(t, v, is.sign(t, "ec-2", claims(nil)), dcr.Metadata{}), "a new key is fetched")
	assert.Equal(t, int32(2), is.fetches.Load())

	for i := 0; i < 5; i++ {
		assert.Equal(t, dcr.InvalidSoftwareStatement, verifyCode(t, v, signWith(t,
			jose.SigningKey{Algorithm: jose.ES256, Key: mustEC(t)}, "made-up", claims(nil)), dcr.Metadata{}))
	}
	assert.Equal(t, int32(2), is.fetches.Load(), "made-up key IDs do not refetch within 30 s")

	is.down.Store(true)
	clock = clock.Add(2 * time.Hour) // the cache is stale
	statement := is.sign(t, "ec-1", claims(map[string]any{"iat": clock.Unix()}))
	assert.Equal(t, 10*time.Second, unavailable(t, v, statement), "stale cache and the issuer down")
	assert.Equal(t, int32(3), is.fetches.Load())
	clock = clock.Add(4 * time.Second)
	assert.Equal(t, 6*time.Second, unavailable(t, v, statement), "no fetch within 10 s of a failed one")
	assert.Equal(t, int32(3), is.fetches.Load())
	is.down.Store(false)
	clock = clock.Add(6 * time.Second)
	assert.Empty(t, verifyCode(t, v, statement, dcr.Metadata{}), "the issuer is back")
	assert.Equal(t, int32(4), is.fetches.Load())
}

// unavailable verifies statement, which must fail as unavailable, and
// returns its Retry-After.
func unavailable(t *testing.T, v *softwarestatement.Verifier, statement string) time.Duration {
	t.Helper()
	err := v.Verify(context.Background(), statement, dcr.Metadata{})
	var ue *dcr.UnavailableError
	require.ErrorAs(t, err, &ue)
	var pe *dcr.PolicyError
	require.False(t, errors.As(err, &pe), "not a refusal")
	return ue.RetryAfter
}

func mustEC(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func TestNewRefuses(t *testing.T) {
	for name, opts := range map[string]softwarestatement.Options{
		"no issuer":         {},
		"http off loopback": {Issuers: map[string]string{iss: "http://issuer.example/jwks"}},
		"not a URL":         {Issuers: map[string]string{iss: "jwks.json"}},
		"none":              {Issuers: map[string]string{iss: "https://issuer.example/jwks"}, Algorithms: []string{"none"}},
		"HMAC":              {Issuers: map[string]string{iss: "https://issuer.example/jwks"}, Algorithms: []string{"ES256", "HS256"}},
	} {
		_, err := softwarestatement.New(opts)
		assert.Error(t, err, name)
	}
	_, err := softwarestatement.New(softwarestatement.Options{Issuers: map[string]string{iss: "http://127.0.0.1:1/jwks"}})
	assert.NoError(t, err, "http on loopback, for tests")
}
