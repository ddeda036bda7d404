// Package iat keeps initial access tokens (RFC 7591 §3) that expire, that
// allow a number of registrations, and that can be revoked: what Keycloak
// offers, for a dcr.Handler. A Store spends a use of a token atomically,
// so replicas that share a store never register more clients than a token
// allows, and gives it back when the registration created no client.
// Only a hash of each token is kept.
//
//	store := iat.NewMemory() // or a Store in Redis, shared by replicas
//	id, token, _ := store.Issue(ctx, 10, 7*24*time.Hour, "partner X")
//	dcr.New(client, dcr.Options{
//		InitialAccessToken:       store.Spend,
//		RefundInitialAccessToken: store.Refund,
//	})
package iat

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"
)

// Token describes an initial access token, without the token itself.
type Token struct {
	// ID names the token in List and Revoke; it is not a secret.
	ID string
	// UsesLeft is how many registrations the token still allows.
	UsesLeft int
	// Expires is when the token stops working.
	Expires time.Time
	// Note is what the token was issued for.
	Note string
}

// Store keeps initial access tokens. Its methods are safe for concurrent
// use; Spend and Refund have the signatures of dcr.Options'
// InitialAccessToken and RefundInitialAccessToken.
type Store interface {
	// Issue creates a token that allows uses registrations until ttl has
	// passed, and returns its ID and the token.
	Issue(ctx context.Context, uses int, ttl time.Duration, note string) (id, token string, err error)
	// Spend takes one use of token: ErrInvalid for a token that is
	// unknown, expired or revoked, ErrUsedUp for one without uses left.
	Spend(ctx context.Context, token string) error
	// Refund gives back a use that Spend took, for a registration that
	// created no client. A token revoked or expired meanwhile stays so.
	Refund(ctx context.Context, token string)
	// List returns the tokens that have not expired, by ID.
	List(ctx context.Context) ([]Token, error)
	// Revoke ends the token id at once; ErrInvalid if there is none.
	Revoke(ctx context.Context, id string) error
}

// The errors of Spend and Revoke.
var (
	ErrInvalid = errors.New("iat: unknown, expired or revoked initial access token")
	ErrUsedUp  = errors.New("iat: initial access token used up")
)

// New returns a new token and its ID: 32 random bytes, base64url-encoded
// (43 characters, an RFC 6750 b64token), and 8 random bytes in hex.
func New() (id, token string) {
	b := make([]byte, 40)
	rand.Read(b)
	return hex.EncodeToString(b[:8]), base64.RawURLEncoding.EncodeToString(b[8:])
}
