// Package tokenshape takes out of log text what looks like a token: the
// handler's log (package dcr) and the example's request lines, which may
// hold a token that nobody gave them (another client's, the service
// access token, a registration access token a client put in the path
// without an Authorization header).
package tokenshape

import "strings"

// MinLen is the length from which a run of base64url characters is taken
// for a token. Authlete's tokens, and those of package iat, are 43
// characters; a token of 16 random bytes is 22.
const MinLen = 20

// Redact replaces each run of at least MinLen base64url characters
// (letters, digits, '-' and '_') in s with "REDACTED", unless the run is
// lower-case letters, '_' and '-': that is a name, such as the metadata
// member "tls_client_certificate_bound_access_tokens", not a secret (a
// random token of 20 characters is one by chance 1 in 10^7). It also
// takes out long numbers, UUIDs and hex digests: log text loses little by
// it.
func Redact(s string) string {
	var b strings.Builder
	last := 0 // s[:last] is in b
	for i := 0; i < len(s); {
		if !isBase64URL(s[i]) {
			i++
			continue
		}
		j, lower, other := i, false, false
		for ; j < len(s) && isBase64URL(s[j]); j++ {
			switch c := s[j]; {
			case 'a' <= c && c <= 'z':
				lower = true
			case c != '_' && c != '-':
				other = true
			}
		}
		if j-i >= MinLen && (other || !lower) {
			b.WriteString(s[last:i])
			b.WriteString("REDACTED")
			last = j
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isBase64URL(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
