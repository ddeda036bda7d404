package dcr

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrMalformedAuthorization is returned by BearerToken when a request's
// Authorization header is not a single RFC 6750 bearer credential.
var ErrMalformedAuthorization = errors.New("dcr: malformed Authorization header")

// maxTokenLen bounds the tokens BearerToken accepts. Authlete's tokens are
// 43 characters; initial access tokens may be JWTs of a few kilobytes.
const maxTokenLen = 8 << 10

// BearerToken returns the bearer token in r's Authorization header
// (RFC 6750 §2.1): the scheme "Bearer", in any case, one or more spaces,
// then a b64token of at most 8 KiB. It returns "" and no error when r has
// no Authorization header, or an empty one, and ErrMalformedAuthorization
// when there are several Authorization headers, another scheme, an empty
// or malformed token. Tokens in the query string or the body are never
// looked at: they end up in logs and proxies.
func BearerToken(r *http.Request) (string, error) {
	values := r.Header["Authorization"]
	if len(values) == 0 {
		return "", nil
	}
	if len(values) > 1 {
		return "", ErrMalformedAuthorization
	}
	v := strings.Trim(values[0], " \t")
	if v == "" {
		return "", nil
	}
	const scheme = "Bearer "
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", ErrMalformedAuthorization
	}
	token := strings.TrimLeft(v[len(scheme):], " ")
	if !isB64Token(token) {
		return "", ErrMalformedAuthorization
	}
	return token, nil
}

// isB64Token reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	if s == "" || len(s) > maxTokenLen {
		return false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// StaticTokens returns an Options.InitialAccessToken verifier that accepts
// the given tokens, compared in constant time. It returns an error when
// there are none, or when one could never be presented: BearerToken only
// reads RFC 6750 b64tokens of at most 8 KiB (letters, digits and -._~+/,
// then optional '='), so a token with another character, such as '!' or
// a trailing newline from a secrets file, would refuse every
// registration.
func StaticTokens(tokens ...string) (func(ctx context.Context, token string) error, error) {
	if len(tokens) == 0 {
		return nil, errors.New("dcr: StaticTokens needs at least one initial access token")
	}
	hashes := make([][sha256.Size]byte, len(tokens))
	for i, t := range tokens {
		if err := checkToken(t); err != nil {
			return nil, fmt.Errorf("dcr: initial access token %d of %d %w", i+1, len(tokens), err)
		}
		hashes[i] = sha256.Sum256([]byte(t))
	}
	return func(_ context.Context, token string) error {
		got := sha256.Sum256([]byte(token))
		match := 0
		for _, h := range hashes {
			match |= subtle.ConstantTimeCompare(got[:], h[:])
		}
		if match != 1 {
			return errUnknownToken
		}
		return nil
	}, nil
}

// checkToken says why t is not a token that BearerToken can return, and
// never repeats t itself.
func checkToken(t string) error {
	const rule = "(RFC 6750 b64token: letters, digits and -._~+/, then optional '=', at most 8 KiB)"
	switch {
	case t == "":
		return errors.New("is empty " + rule)
	case len(t) > maxTokenLen:
		return fmt.Errorf("is %d bytes long %s", len(t), rule)
	case !isB64Token(t):
		i := strings.IndexFunc(t, func(c rune) bool { return !isB64Token(string(c)) && c != '=' })
		if i < 0 {
			i = strings.IndexByte(t, '=') // '=' before the end of the token
		}
		return fmt.Errorf("has a character that a bearer token cannot hold, %q at byte %d %s", t[i:i+1], i+1, rule)
	}
	return nil
}

var errUnknownToken = errors.New("dcr: unknown initial access token")
