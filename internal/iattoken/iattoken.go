// Package iattoken holds what every iat.Store does alike, so that the
// stores outside package iat (iatredis) keep tokens as iat.Memory does.
package iattoken

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Hash is what a Store keeps of token: its SHA-256, in hex.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// CheckIssue reports whether uses and ttl make a token that can be used:
// at least one use and a positive lifetime.
func CheckIssue(uses int, ttl time.Duration) error {
	if uses < 1 || ttl <= 0 {
		return errors.New("iat: a token needs at least one use and a positive lifetime")
	}
	return nil
}
