// Package softwarestatement verifies RFC 7591 §2.3 software statements:
// JWTs that a trusted issuer signed, whose claims are client metadata. It
// is the verify function of policy.SoftwareStatement, ready made:
//
//	v, err := softwarestatement.New(softwarestatement.Options{
//		Issuers: map[string]string{"https://issuer.example": "https://issuer.example/jwks.json"},
//	})
//	policies := []dcr.Policy{policy.SoftwareStatement(true, v.Verify), /* then the others */}
//
// Each issuer's keys are fetched from its JWKS URL, cached, and fetched
// again for a key ID the cache does not know; one fetch per issuer at a
// time, which the requests that need it wait for. An issuer whose keys
// cannot be had fails the request as unavailable for now (503 with
// Retry-After), not as a bad statement. Only asymmetric algorithms are
// accepted, never none nor HMAC (whose key would be public). The
// statement's claims are read by their exact names: a claim given twice,
// or twice but for case ("iss" and "ISS"), refuses it. It must carry iat,
// not in the future and not older than MaxAge, and must not have expired
// (exp) nor be early (nbf). Its claims then win over the request's members
// (RFC 7591 §2.3), language-tagged variants included: a statement with
// client_name leaves no client_name, nor client_name#ja, of the request,
// and the policies after policy.SoftwareStatement see the merged metadata.
//
// It is a module of its own, so that its JOSE library
// (github.com/go-jose/go-jose/v4) stays out of the library's dependencies.
package softwarestatement

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/internal/loopback"
)

// Defaults used where an Options field is zero.
const (
	DefaultMaxAge       = 24 * time.Hour
	DefaultLeeway       = time.Minute
	DefaultCacheTTL     = time.Hour
	DefaultFetchTimeout = 5 * time.Second
	// minRefetch is how long a JWKS fetched for an unknown key ID is
	// trusted before another unknown key ID may fetch it again: a stream
	// of made-up key IDs must not become a stream of fetches.
	minRefetch = 30 * time.Second
	// maxJWKSBytes bounds a JWKS document.
	maxJWKSBytes = 1 << 20
	// outageBackoff is how long after a failed fetch of an issuer's JWKS
	// no other is tried: the requests that need it meanwhile are
	// unavailable, with a Retry-After of what is left of it.
	outageBackoff = 10 * time.Second
)

// DefaultAlgorithms are the signature algorithms accepted when
// Options.Algorithms is nil.
var DefaultAlgorithms = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}

// Options configure a Verifier. Issuers is required; the zero value of
// the others selects the documented default.
type Options struct {
	// Issuers maps each trusted issuer (the statement's iss) to the URL of
	// its JWKS: https, or http on loopback (for tests). A statement of
	// another issuer is unapproved_software_statement.
	Issuers map[string]string
	// Algorithms are the JWS algorithms accepted. Nil means
	// DefaultAlgorithms; none and HMAC (HS256, ...) are refused by New.
	Algorithms []string
	// MaxAge bounds how old a statement may be (its iat). Zero means
	// DefaultMaxAge.
	MaxAge time.Duration
	// Leeway is the clock skew allowed for iat, exp and nbf. Zero means
	// DefaultLeeway.
	Leeway time.Duration
	// CacheTTL is how long a fetched JWKS is used. Zero means
	// DefaultCacheTTL.
	CacheTTL time.Duration
	// HTTPClient fetches the JWKS documents. Nil means a client with a
	// timeout of DefaultFetchTimeout that follows no redirect.
	HTTPClient *http.Client
	// Now tells the time. Nil means time.Now.
	Now func() time.Time
}

// Verifier verifies software statements. It is safe for concurrent use.
type Verifier struct {
	issuers map[string]string
	algs    []jose.SignatureAlgorithm
	maxAge  time.Duration
	leeway  time.Duration
	ttl     time.Duration
	client  *http.Client
	now     func() time.Time

	mu   sync.Mutex
	keys map[string]*issuerKeys // by issuer
}

// issuerKeys are what the Verifier knows of an issuer's keys: the last
// JWKS fetched, when the last fetch failed, and the fetch under way.
type issuerKeys struct {
	set     *jose.JSONWebKeySet // nil before the first fetch
	fetched time.Time
	failed  time.Time // zero when the last fetch succeeded
	flight  *flight   // nil when no fetch is under way
}

// flight is a fetch of a JWKS, which every request that needs it waits
// for: done is closed when set or err holds its result.
type flight struct {
	done chan struct{}
	set  *jose.JSONWebKeySet
	err  error
}

// New checks opts and returns a Verifier.
func New(opts Options) (*Verifier, error) {
	if len(opts.Issuers) == 0 {
		return nil, errors.New("softwarestatement: no trusted issuer")
	}
	for iss, raw := range opts.Issuers {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopback.Host(u.Hostname()))) {
			return nil, fmt.Errorf("softwarestatement: the JWKS URL %q of issuer %q is not https (or http on loopback)", raw, iss)
		}
	}
	v := &Verifier{issuers: opts.Issuers, maxAge: opts.MaxAge, leeway: opts.Leeway, ttl: opts.CacheTTL,
		client: opts.HTTPClient, now: opts.Now, keys: map[string]*issuerKeys{}}
	names := opts.Algorithms
	if names == nil {
		names = DefaultAlgorithms
	}
	for _, name := range names {
		switch alg := jose.SignatureAlgorithm(name); alg {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA:
			v.algs = append(v.algs, alg)
		default:
			return nil, fmt.Errorf("softwarestatement: the algorithm %q is not accepted: only asymmetric signatures, never none nor HMAC", name)
		}
	}
	if v.maxAge <= 0 {
		v.maxAge = DefaultMaxAge
	}
	if v.leeway <= 0 {
		v.leeway = DefaultLeeway
	}
	if v.ttl <= 0 {
		v.ttl = DefaultCacheTTL
	}
	if v.client == nil {
		v.client = &http.Client{Timeout: DefaultFetchTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// registered are the JWT claims that describe the statement, not the
// client: they are not copied into the metadata.
var registered = []string{"iss", "iat", "exp", "nbf", "jti", "aud", "sub"}

// Verify checks statement, and copies its claims into m, where they win
// over the request's members: a claim replaces the member of its name and
// every language-tagged variant of it ("client_name#ja" for client_name,
// and client_name for "client_name#ja"). An untrusted issuer is
// unapproved_software_statement; any other fault (not a JWS, an algorithm
// not accepted, a claim given twice or twice but for case, a bad
// signature, an unknown key, no iat, a time out of range) is
// invalid_software_statement. An issuer whose keys cannot be fetched is a
// *dcr.UnavailableError, with a Retry-After. It is
// policy.SoftwareStatement's verify function.
func (v *Verifier) Verify(ctx context.Context, statement string, m dcr.Metadata) error {
	invalid := func(why string) error {
		return dcr.Reject(dcr.InvalidSoftwareStatement, "The software statement "+why+".")
	}
	jws, err := jose.ParseSignedCompact(statement, v.algs)
	if err != nil || len(jws.Signatures) != 1 {
		return invalid("is not a JWS signed with an accepted algorithm")
	}
	unverified, err := decodeClaims(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return invalid(err.Error())
	}
	issuer, _ := unverified["iss"].(string)
	if _, ok := v.issuers[issuer]; !ok {
		return dcr.Reject(dcr.UnapprovedSoftwareStatement, fmt.Sprintf("The issuer %q of the software statement is not trusted.", issuer))
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, err := v.keysFor(ctx, issuer, kid)
	if err != nil {
		return err
	}
	var payload []byte
	for _, k := range keys {
		if payload, err = jws.Verify(k); err == nil {
			break
		}
	}
	if payload == nil {
		return invalid("has no valid signature by its issuer")
	}
	claims, err := decodeClaims(payload)
	if err != nil {
		return invalid(err.Error())
	}
	if err := v.checkTimes(claims); err != nil {
		return invalid(err.Error())
	}
	// RFC 7591 §2.3: the statement's values win, over the member and over
	// every language-tagged variant of it.
	stated := map[string]bool{}
	for name := range claims {
		if !slices.Contains(registered, name) {
			stated[baseName(name)] = true
		}
	}
	for name := range m {
		if stated[baseName(name)] {
			delete(m, name)
		}
	}
	for name, value := range claims {
		if !slices.Contains(registered, name) {
			m[name] = value
		}
	}
	return nil
}

// baseName is a member's name without its language tag (OpenID Connect
// Dynamic Client Registration §2.1): client_name for "client_name#ja".
func baseName(name string) string {
	base, _, _ := strings.Cut(name, "#")
	return base
}

// decodeClaims decodes a JWT's claims, numbers as json.Number, by their
// exact names. A claim given twice, or twice but for case, or a case
// variant of a registered claim ("ISS") is refused: encoding/json would
// keep the last, or read "ISS" as iss.
func decodeClaims(payload []byte) (map[string]any, error) {
	notJWT := errors.New("is not a JWT")
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, notJWT
	}
	claims := map[string]any{}
	folded := map[string]string{} // lower case → the name given
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, notJWT
		}
		name := tok.(string) // a member name: the decoder checks the syntax
		lower := strings.ToLower(name)
		if first, ok := folded[lower]; ok {
			if first == name {
				return nil, fmt.Errorf("has the claim %q twice", name)
			}
			return nil, fmt.Errorf("has the claims %q and %q, which differ only in case", first, name)
		}
		if slices.Contains(registered, lower) && lower != name {
			return nil, fmt.Errorf("has the claim %q, which is not %q", name, lower)
		}
		folded[lower] = name
		var value any
		if err := dec.Decode(&value); err != nil {
			return nil, notJWT
		}
		claims[name] = value
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, notJWT
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, notJWT
	}
	return claims, nil
}

// checkTimes applies iat (required), exp and nbf.
func (v *Verifier) checkTimes(claims map[string]any) error {
	at := func(name string) (time.Time, bool, error) {
		raw, ok := claims[name]
		if !ok {
			return time.Time{}, false, nil
		}
		n, ok := raw.(json.Number)
		f, err := n.Float64()
		if !ok || err != nil {
			return time.Time{}, true, fmt.Errorf("has a %s that is not a number", name)
		}
		return time.Unix(int64(f), 0), true, nil
	}
	now := v.now()
	iat, ok, err := at("iat")
	switch {
	case err != nil:
		return err
	case !ok:
		return errors.New("has no iat")
	case iat.After(now.Add(v.leeway)):
		return errors.New("was issued in the future (iat)")
	case iat.Before(now.Add(-v.maxAge - v.leeway)):
		return fmt.Errorf("is older than %v (iat)", v.maxAge)
	}
	if exp, ok, err := at("exp"); err != nil {
		return err
	} else if ok && !now.Before(exp.Add(v.leeway)) {
		return errors.New("has expired (exp)")
	}
	if nbf, ok, err := at("nbf"); err != nil {
		return err
	} else if ok && now.Add(v.leeway).Before(nbf) {
		return errors.New("is not valid yet (nbf)")
	}
	return nil
}

// keysFor returns the keys of issuer that may have signed with kid (all
// its keys when kid is ""), from the cache or, when it has none fresh
// enough or does not know kid, from the issuer's JWKS URL: one fetch per
// issuer at a time, which the other requests wait for. The keys cannot be
// had (the fetch failed, or failed less than outageBackoff ago) is a
// *dcr.UnavailableError.
func (v *Verifier) keysFor(ctx context.Context, issuer, kid string) ([]jose.JSONWebKey, error) {
	pick := func(set *jose.JSONWebKeySet) []jose.JSONWebKey {
		if set == nil {
			return nil
		}
		if kid == "" {
			return set.Keys
		}
		return set.Key(kid)
	}
	v.mu.Lock()
	st := v.keys[issuer]
	if st == nil {
		st = &issuerKeys{}
		v.keys[issuer] = st
	}
	now := v.now()
	fresh := st.set != nil && now.Sub(st.fetched) < v.ttl
	if keys := pick(st.set); fresh && (len(keys) > 0 || now.Sub(st.fetched) < minRefetch) {
		v.mu.Unlock()
		return keys, nil
	}
	// A cache fresh enough was used above: an issuer that is down leaves
	// its keys in use until they are stale.
	if since := now.Sub(st.failed); !st.failed.IsZero() && since < outageBackoff {
		v.mu.Unlock()
		return nil, dcr.Unavailable(outageBackoff-since, errors.New("softwarestatement: the JWKS of "+issuer+" could not be fetched a moment ago"))
	}
	f := st.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		st.flight = f
		go v.fly(context.WithoutCancel(ctx), issuer, st, f)
	}
	v.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, dcr.Unavailable(0, ctx.Err())
	}
	if f.err != nil {
		return nil, dcr.Unavailable(outageBackoff, f.err)
	}
	return pick(f.set), nil
}

// fly fetches the JWKS of issuer for the flight f, and records the result
// in st.
func (v *Verifier) fly(ctx context.Context, issuer string, st *issuerKeys, f *flight) {
	set, err := v.fetch(ctx, v.issuers[issuer])
	v.mu.Lock()
	if err == nil {
		st.set, st.fetched, st.failed = set, v.now(), time.Time{}
	} else {
		st.failed = v.now()
	}
	st.flight = nil
	f.set, f.err = set, err
	v.mu.Unlock()
	close(f.done)
}

func (v *Verifier) fetch(ctx context.Context, jwksURL string) (*jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("softwarestatement: JWKS %s: HTTP %d", jwksURL, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("softwarestatement: JWKS %s: larger than %d bytes", jwksURL, maxJWKSBytes)
	}
	set := new(jose.JSONWebKeySet)
	if err := json.Unmarshal(data, set); err != nil {
		return nil, fmt.Errorf("softwarestatement: JWKS %s: %w", jwksURL, err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return nil, fmt.Errorf("softwarestatement: JWKS %s holds a key that is not a public key", jwksURL)
		}
	}
	return set, nil
}
