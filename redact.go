package dcr

import "strings"

// minRedactedLen is the length from which a token is redacted from log
// text. The Handler never puts a token into a message itself; redaction
// catches a Backend or a hook that does. A shorter token is no secret, and
// replacing it everywhere would garble the line (a token "t" would turn
// "authlete get" into "auREDACTEDhleREDACTEDe geREDACTED").
const minRedactedLen = 8

// redact removes token from s when it is long enough to be a secret, and
// whatever else in s looks like a token: see redactTokenShaped.
func redact(s, token string) string {
	if len(token) >= minRedactedLen {
		s = strings.ReplaceAll(s, token, "REDACTED")
	}
	return redactTokenShaped(s)
}

// minTokenShapedLen is the length from which a run of base64url
// characters is taken for a token in log text. Authlete's tokens, and
// those of package iat, are 43 characters; a token of 16 random bytes is
// 22.
const minTokenShapedLen = 20

// redactTokenShaped replaces each run of at least minTokenShapedLen
// base64url characters (letters, digits, '-' and '_') in s with
// "REDACTED", unless the run is lower-case letters, '_' and '-':
// that is a name, such as the metadata member
// "tls_client_certificate_bound_access_tokens", not a secret (a random
// token of 20 characters is one by chance 1 in 10^7). It is how a token
// that the Handler was not given (another client's, Authlete's own
// service access token) is kept out of the log when Authlete's
// resultMessage or a Backend's error repeats it. It also takes out
// long numbers, UUIDs and hex digests: log text loses little by it.
func redactTokenShaped(s string) string {
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
		if j-i >= minTokenShapedLen && (other || !lower) {
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
