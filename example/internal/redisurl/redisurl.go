// Package redisurl parses DCR_REDIS_URL for the example and dcr-iat
// without repeating its password in an error.
package redisurl

import (
	"errors"
	"net/url"

	"github.com/redis/go-redis/v9"
)

// Parse is redis.ParseURL, whose error, for a URL that Go cannot parse, is
// a *url.Error that holds the URL whole, password included: that error is
// replaced by one that names no part of the URL.
func Parse(raw string) (*redis.Options, error) {
	opts, err := redis.ParseURL(raw)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return nil, errors.New("not a URL (Go's net/url cannot parse it)")
	}
	return opts, err
}
