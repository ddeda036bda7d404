// Package iatredis is an iat.Store in Redis, shared by every replica of
// the server: a token is a hash at dcr:iat:token:{sha256 of the token}
// that expires with it, and dcr:iat:id:{id} points at it. Spend and
// Refund are one Lua script each, so that a use is spent atomically
// across replicas.
package iatredis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/iat"
	"github.com/dcr-go/dcr/internal/iattoken"
)

const (
	tokenPrefix = "dcr:iat:token:"
	idPrefix    = "dcr:iat:id:"
)

// Store is an iat.Store in Redis.
type Store struct {
	rdb redis.UniversalClient
}

// New returns a Store that keeps its tokens in rdb.
func New(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

var _ iat.Store = (*Store)(nil)

func (s *Store) Issue(ctx context.Context, uses int, ttl time.Duration, note string) (string, string, error) {
	if err := iattoken.CheckIssue(uses, ttl); err != nil {
		return "", "", err
	}
	id, token := iat.New()
	hash := iattoken.Hash(token)
	key := tokenPrefix + hash
	expires := time.Now().Add(ttl)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "id", id, "uses", uses, "expires", expires.Unix(), "note", note)
		p.PExpireAt(ctx, key, expires)
		p.Set(ctx, idPrefix+id, hash, 0)
		p.PExpireAt(ctx, idPrefix+id, expires)
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return id, token, nil
}

// spend takes a use: 1 when taken, 0 when the token is unknown (expired
// or revoked: Redis dropped the key), -1 when none is left.
var spend = redis.NewScript(`
local uses = redis.call('HGET', KEYS[1], 'uses')
if not uses then return 0 end
if tonumber(uses) <= 0 then return -1 end
redis.call('HINCRBY', KEYS[1], 'uses', -1)
return 1`)

// refund gives a use back to a token that still exists.
var refund = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'uses', 1)
end
return 0`)

func (s *Store) Spend(ctx context.Context, token string) error {
	n, err := spend.Run(ctx, s.rdb, []string{tokenPrefix + iattoken.Hash(token)}).Int()
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", dcr.ErrVerifierFailed, err)
	case n == 0:
		return iat.ErrInvalid
	case n < 0:
		return iat.ErrUsedUp
	}
	return nil
}

func (s *Store) Refund(ctx context.Context, token string) {
	refund.Run(ctx, s.rdb, []string{tokenPrefix + iattoken.Hash(token)})
}

func (s *Store) List(ctx context.Context) ([]iat.Token, error) {
	var out []iat.Token
	iter := s.rdb.Scan(ctx, 0, tokenPrefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		fields, err := s.rdb.HGetAll(ctx, iter.Val()).Result()
		if err != nil {
			return nil, err
		}
		if len(fields) == 0 {
			continue // expired meanwhile
		}
		uses, _ := strconv.Atoi(fields["uses"])
		expires, _ := strconv.ParseInt(fields["expires"], 10, 64)
		out = append(out, iat.Token{ID: fields["id"], UsesLeft: uses, Expires: time.Unix(expires, 0), Note: fields["note"]})
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b iat.Token) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *Store) Revoke(ctx context.Context, id string) error {
	hash, err := s.rdb.Get(ctx, idPrefix+id).Result()
	if errors.Is(err, redis.Nil) {
		return iat.ErrInvalid
	}
	if err != nil {
		return err
	}
	return s.rdb.Del(ctx, tokenPrefix+hash, idPrefix+id).Err()
}
