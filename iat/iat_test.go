package iat_test

import (
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/dcr-go/dcr/iat"
)

// TestNew: a token is 32 random bytes in base64url without padding (an
// RFC 6750 b64token), its ID 8 random bytes in hex; no two alike.
func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, token := iat.New()
		if b, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(b) != 32 || len(token) != 43 {
			t.Fatalf("token %q: not 32 bytes in base64url (%v)", token, err)
		}
		if b, err := hex.DecodeString(id); err != nil || len(b) != 8 {
			t.Fatalf("id %q: not 8 bytes in hex (%v)", id, err)
		}
		if seen[id] || seen[token] {
			t.Fatalf("New returned %q or %q twice", id, token)
		}
		seen[id], seen[token] = true, true
	}
}
