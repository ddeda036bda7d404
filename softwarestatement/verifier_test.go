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
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/dcrtest"
	"github.com/dcr-go/dcr/policy"
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

func verifyCode(t *testing.T, v *softwarestatement.Verifier, statement string, m dcr.Metadata) dcr.ErrorCode {
	t.Helper()
	err := v.Verify(context.Background(), statement, m)
	if err == nil {
		return ""
	}
	var pe *dcr.Error
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
		statement string
		code      dcr.ErrorCode
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
	var pe *dcr.Error
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
		"http on a name":    {Issuers: map[string]string{iss: "http://localhost.example/jwks"}},
		"http on 0.0.0.0":   {Issuers: map[string]string{iss: "http://0.0.0.0:1/jwks"}},
		"http on localhoſt": {Issuers: map[string]string{iss: "http://localhoſt:1/jwks"}}, // U+017F, which folds to s
		"not a URL":         {Issuers: map[string]string{iss: "jwks.json"}},
		"none":              {Issuers: map[string]string{iss: "https://issuer.example/jwks"}, Algorithms: []string{"none"}},
		"HMAC":              {Issuers: map[string]string{iss: "https://issuer.example/jwks"}, Algorithms: []string{"ES256", "HS256"}},
	} {
		_, err := softwarestatement.New(opts)
		assert.Error(t, err, name)
	}
	for _, jwks := range []string{"http://127.0.0.1:1/jwks", "http://127.0.0.2:1/jwks", "http://[::1]:1/jwks", "http://localhost:1/jwks", "http://LocalHost:1/jwks"} {
		_, err := softwarestatement.New(softwarestatement.Options{Issuers: map[string]string{iss: jwks}})
		assert.NoError(t, err, "http on loopback, for tests: %s", jwks)
	}
}

// signRaw signs payload as it is, with the issuer's key kid.
func (is *issuer) signRaw(t *testing.T, kid, payload string) string {
	is.mu.Lock()
	k := is.keys[kid]
	is.mu.Unlock()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	require.NoError(t, err)
	jws, err := signer.Sign([]byte(payload))
	require.NoError(t, err)
	out, err := jws.CompactSerialize()
	require.NoError(t, err)
	return out
}

// TestClaimNames: claims count by their exact names. A claim given twice,
// or twice but for case, or a registered claim in another case, refuses
// the statement; encoding/json would read {"iss":untrusted,"ISS":trusted}
// as the trusted issuer's.
func TestClaimNames(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, softwarestatement.Options{})
	iat := fmt.Sprintf(`"iat":%d`, now.Unix())
	for name, payload := range map[string]string{
		"iss and ISS":          `{"iss":"https://evil.example","ISS":"` + iss + `",` + iat + `}`,
		"ISS and iss":          `{"ISS":"` + iss + `","iss":"https://evil.example",` + iat + `}`,
		"ISS alone":            `{"ISS":"` + iss + `",` + iat + `}`,
		"Iat":                  `{"iss":"` + iss + `","Iat":1,` + iat + `}`,
		"iss twice":            `{"iss":"https://evil.example","iss":"` + iss + `",` + iat + `}`,
		"a member twice":       `{"iss":"` + iss + `",` + iat + `,"client_name":"A","client_name":"B"}`,
		"a member in two case": `{"iss":"` + iss + `",` + iat + `,"client_name":"A","Client_Name":"B"}`,
		"a tag in two cases":   `{"iss":"` + iss + `",` + iat + `,"client_name#ja":"A","client_name#JA":"B"}`,
		"an array":             `[` + iat + `]`,
		"trailing data":        `{"iss":"` + iss + `",` + iat + `}{}`,
	} {
		m := dcr.Metadata{}
		assert.Equal(t, dcr.InvalidSoftwareStatement, verifyCode(t, v, is.signRaw(t, "ec-1", payload), m), name)
		assert.Empty(t, m, name)
	}
	// Legitimate statements pass: tagged members, names in any script,
	// escapes that spell the same name once.
	for name, payload := range map[string]string{
		"plain":        `{"iss":"` + iss + `",` + iat + `,"client_name":"A"}`,
		"tagged":       `{"iss":"` + iss + `",` + iat + `,"client_name":"A","client_name#ja":"エー","client_name#en":"A"}`,
		"unicode name": `{"iss":"` + iss + `",` + iat + `,"x_名前":"A"}`,
		"escaped":      `{"\u0069ss":"` + iss + `",` + iat + `}`,
	} {
		assert.Empty(t, verifyCode(t, v, is.signRaw(t, "ec-1", payload), dcr.Metadata{}), name)
	}
}

// TestStatementWinsOverTaggedMembers: a claim replaces the request's
// member and every language-tagged variant of it, both ways.
func TestStatementWinsOverTaggedMembers(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, softwarestatement.Options{})
	m := dcr.Metadata{"client_name": "Evil", "client_name#ja": "悪", "client_name#en": "Evil", "logo_uri": "https://evil.example/l.png",
		"tos_uri#fr": "https://evil.example/tos", "redirect_uris": []any{"https://app.example/cb"}}
	require.Empty(t, verifyCode(t, v, is.sign(t, "ec-1", claims(map[string]any{"logo_uri#ja": "https://client.example.net/ja.png", "tos_uri": "https://client.example.net/tos"})), m))
	assert.Equal(t, dcr.Metadata{"client_name": "Example Statement-based Client", "client_uri": "https://client.example.net/",
		"software_id": "4NRB1-0XZABZI9E6-5SM3R", "logo_uri#ja": "https://client.example.net/ja.png", "tos_uri": "https://client.example.net/tos",
		"redirect_uris": []any{"https://app.example/cb"}}, m)
}

// TestStatementWinsProperty: for any statement and any request with
// language-tagged variants of the same members, every member the
// statement names (with or without a tag) holds exactly what the statement
// says, and the request's others stay.
func TestStatementWinsProperty(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, softwarestatement.Options{})
	bases := []string{"client_name", "logo_uri", "client_uri", "tos_uri", "policy_uri", "contacts"}
	tags := []string{"", "#ja", "#en", "#x-evil", "#en-US", "#JA", "#"}
	rapid.Check(t, func(rt *rapid.T) {
		members := func(label string, tags []string) map[string]any {
			out := map[string]any{}
			for _, b := range bases {
				for _, tag := range tags {
					if rapid.IntRange(0, 3).Draw(rt, label+" "+b+tag) == 0 {
						out[b+tag] = label + " " + b + tag
					}
				}
			}
			return out
		}
		// A statement's claims differ in more than case (TestClaimNames).
		stated, asked := members("statement", tags[:4]), members("request", tags)
		m := dcr.Metadata{}
		for k, val := range asked {
			m[k] = val
		}
		c := claims(map[string]any{"client_name": nil, "client_uri": nil, "software_id": nil})
		for k, val := range stated {
			c[k] = val
		}
		statement := is.sign(t, "ec-1", c)
		if code := verifyCode(t, v, statement, m); code != "" {
			rt.Fatalf("refused: %s", code)
		}
		base := func(name string) string { b, _, _ := strings.Cut(name, "#"); return b }
		statedBases := map[string]bool{}
		for k := range stated {
			statedBases[base(k)] = true
		}
		for k, val := range stated {
			if m[k] != val {
				rt.Fatalf("%q is %v, not the statement's %v", k, m[k], val)
			}
		}
		for k, val := range m {
			if statedBases[base(k)] {
				if _, ok := stated[k]; !ok {
					rt.Fatalf("the request's %q (%v) is left beside the statement's %s", k, val, base(k))
				}
			} else if asked[k] != val {
				rt.Fatalf("the request's %q changed to %v", k, val)
			}
		}
		for k := range asked {
			if _, kept := m[k]; !kept && !statedBases[base(k)] {
				rt.Fatalf("the request's %q is gone", k)
			}
		}
	})
}

// arrival is a context that tells when its request first waits on it.
type arrival struct {
	context.Context
	once    sync.Once
	arrived func()
}

func (a *arrival) Done() <-chan struct{} {
	a.once.Do(a.arrived)
	return a.Context.Done()
}

// TestOneFetchAtATime: 30 statements with key IDs the issuer does not
// know, verified at once while the JWKS answers only when all 30 wait,
// cost one fetch, not 30 (as before the fetch was shared). A request
// waits on its own context, whether for its fetch or for another's: that
// is the event the JWKS waits for.
func TestOneFetchAtATime(t *testing.T) {
	const n = 30
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	is := newIssuer(t)
	blocked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-all
		is.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer blocked.Close()
	v := newVerifier(t, is, softwarestatement.Options{Issuers: map[string]string{iss: blocked.URL + "/jwks.json"}})
	var done sync.WaitGroup
	codes := make([]dcr.ErrorCode, n)
	for i := range n {
		statement := signWith(t, jose.SigningKey{Algorithm: jose.ES256, Key: mustEC(t)}, "forged-"+string(rune('a'+i)), claims(nil))
		done.Add(1)
		go func() {
			defer done.Done()
			ctx := &arrival{Context: context.Background(), arrived: arrived.Done}
			codes[i] = codeOf(v.Verify(ctx, statement, dcr.Metadata{}))
		}()
	}
	done.Wait()
	assert.Equal(t, int32(1), is.fetches.Load(), "one fetch for all")
	for i, code := range codes {
		assert.Equal(t, dcr.InvalidSoftwareStatement, code, i)
	}
}

func codeOf(err error) dcr.ErrorCode {
	if pe, ok := err.(*dcr.Error); ok {
		return pe.Code
	}
	if err != nil {
		return dcr.ErrorCode(err.Error())
	}
	return ""
}

// TestIssuerOutage, black box through the handler: while the issuer's
// JWKS is down, a registration with its statement gets 503
// temporarily_unavailable with Retry-After, which a client retries, not
// the 400 it would take as final; nothing reaches Authlete; when the
// issuer is back, the same statement registers.
func TestIssuerOutage(t *testing.T) {
	is := newIssuer(t)
	is.down.Store(true)
	v, err := softwarestatement.New(softwarestatement.Options{Issuers: map[string]string{iss: is.srv.URL + "/jwks.json"}})
	require.NoError(t, err)
	srv := dcrtest.NewServer(t, dcrtest.Options{Handler: dcr.Options{Policies: []dcr.Policy{policy.SoftwareStatement(true, v.Verify)}}})
	c := claims(nil)
	c["iat"] = jsonNow()
	body, _ := json.Marshal(map[string]any{"software_statement": is.sign(t, "ec-1", c), "redirect_uris": []string{"https://app.example/cb"}})
	post := func() (*http.Response, map[string]any) {
		resp, err := http.Post(srv.RegistrationEndpoint, "application/json", strings.NewReader(string(body)))
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp, out
	}
	resp, out := post()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, out)
	assert.Equal(t, "temporarily_unavailable", out["error"])
	assert.Equal(t, "10", resp.Header.Get("Retry-After"))
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.NotContains(t, out["error_description"], "JWKS")
	assert.Equal(t, 0, srv.Authlete.Calls("register"), "Authlete is not called")
	assert.Equal(t, int32(1), is.fetches.Load())
	resp, _ = post()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, int32(1), is.fetches.Load(), "no fetch within 10 s of a failed one")
}

func jsonNow() int64 { return time.Now().Unix() }
