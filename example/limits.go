package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/dcr-go/dcr"
)

// The shared rate limit costs one Redis round trip per request: one
// EVALSHA of redis_rate's GCRA script (a second, EVAL, only after Redis
// lost its script cache). No lock is held across it. Each call has
// redisCallTimeout; a failed or slow call makes that request, and every
// request for storeRetry after it, count in memory, per process.
const (
	redisCallTimeout = 250 * time.Millisecond
	storeRetry       = time.Second
	redisPoolSize    = 64
)

// newRedis connects to the Redis of DCR_REDIS_URL with timeouts that keep
// the limiter's calls within redisCallTimeout.
func newRedis(opts *redis.Options) *redis.Client {
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = redisCallTimeout, redisCallTimeout, redisCallTimeout
	opts.ContextTimeoutEnabled = true
	opts.PoolSize = redisPoolSize
	opts.PoolTimeout = redisCallTimeout
	opts.MaxRetries = -1 // the limiter falls back to memory instead
	opts.DisableIdentity = true
	return redis.NewClient(opts)
}

// limitStore is the shared store of the rate limits, with its health:
// after a failed call it is left alone for storeRetry, and the limits
// count in memory meanwhile. It is safe for concurrent use.
type limitStore struct {
	limiter *redis_rate.Limiter
	logger  *slog.Logger
	m       *metrics
	retryAt atomic.Int64 // unix nanoseconds; 0 when healthy
}

func newLimitStore(rdb *redis.Client, logger *slog.Logger, m *metrics) *limitStore {
	if rdb == nil {
		return nil
	}
	s := &limitStore{limiter: redis_rate.NewLimiter(rdb), logger: logger, m: m}
	m.registry.MustRegister(m.limitStoreUp)
	m.limitStoreUp.Set(1)
	return s
}

// usable reports whether the store may be asked now.
func (s *limitStore) usable() bool {
	at := s.retryAt.Load()
	return at == 0 || time.Now().UnixNano() >= at
}

// failed records a failed call of limit, logging the first of a series.
func (s *limitStore) failed(limit string, err error) {
	s.m.limiterStoreErrors.WithLabelValues(limit).Inc()
	s.m.limitStoreUp.Set(0)
	if s.retryAt.Swap(time.Now().Add(storeRetry).UnixNano()) == 0 {
		s.logger.Warn("rate limit store failed; counting in memory, per process, until it answers", "limit", limit, "error", err)
	}
}

// succeeded records a successful call, logging a recovery.
func (s *limitStore) succeeded() {
	if s.retryAt.Load() != 0 && s.retryAt.Swap(0) != 0 {
		s.m.limitStoreUp.Set(1)
		s.logger.Info("rate limit store answers again")
	}
}

// Store states that /readyz shows. They are fixed phrases: the error's
// text names internal addresses (read tcp 10.0.3.7:38626->10.0.9.2:6379),
// so it goes to the log and the metrics only.
const (
	storeOK      = "ok"
	storeFailing = "failing, counting in memory (see the log and dcr_rate_limit_store_errors_total)"
)

// status is the store's state for /readyz.
func (s *limitStore) status() string {
	if s.retryAt.Load() == 0 {
		return storeOK
	}
	return storeFailing
}

// A rateLimit is a budget of requests per minute, counted per key: per
// client address, per network of DCR_RATE_LIMIT_NETWORKS, or one key for
// every request (DCR_RATE_LIMIT_GLOBAL).
type rateLimit struct {
	name        string // the metric's limit label and the Redis key's prefix
	perMinute   int    // 0: no limit
	key         func(r *http.Request) string
	description string // the error_description of a refused request
}

// handler returns the limit's middleware, counting in store when it is
// not nil and usable, in memory otherwise; nil when perMinute is 0.
// Each refused request counts in m.
func (l rateLimit) handler(store *limitStore, m *metrics) func(http.Handler) http.Handler {
	if l.perMinute == 0 {
		return nil
	}
	refused := m.rateLimited.WithLabelValues(l.name)
	limited := tooManyRequests(l.description)
	countRefused := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused.Inc()
		limited(w, r)
	})
	keyFunc := func(r *http.Request) (string, error) { return l.key(r), nil }
	local := httprate.LimitBy(l.perMinute, time.Minute, keyFunc, httprate.WithLimitHandler(countRefused))
	if store == nil {
		return local
	}
	limit := redis_rate.PerMinute(l.perMinute)
	prefix := "dcr:" + l.name + ":"
	return func(next http.Handler) http.Handler {
		inMemory := local(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !store.usable() {
				inMemory.ServeHTTP(w, r)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), redisCallTimeout)
			res, err := store.limiter.Allow(ctx, prefix+l.key(r), limit)
			cancel()
			if err != nil {
				if r.Context().Err() != nil {
					return // the client went away
				}
				store.failed(l.name, err)
				inMemory.ServeHTTP(w, r)
				return
			}
			store.succeeded()
			h := w.Header()
			h.Set("X-RateLimit-Limit", strconv.Itoa(l.perMinute))
			h.Set("X-RateLimit-Remaining", strconv.Itoa(res.Remaining))
			h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(res.ResetAfter).Unix(), 10))
			if res.Allowed == 0 {
				h.Set("Retry-After", strconv.Itoa(int(math.Ceil(res.RetryAfter.Seconds()))))
				countRefused(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// A networkLimit is one entry of DCR_RATE_LIMIT_NETWORKS: the
// registrations from every address of Prefix share one budget of
// PerMinute, instead of each address having DCR_RATE_LIMIT. Hosted
// clients (claude.ai's broker, ChatGPT) register for all their users from
// a few addresses.
type networkLimit struct {
	Prefix    netip.Prefix
	PerMinute int
}

// registrationLimits returns the rate limits of registrations, nil when
// there are none: the client's network budget (the most specific network
// of networks that holds its address) or else its address's budget, then
// the global ceiling, so that an address over its budget does not spend
// the global one.
func registrationLimits(perAddress int, networks []networkLimit, global int, store *limitStore, m *metrics) func(http.Handler) http.Handler {
	address := rateLimit{name: "register", perMinute: perAddress, key: clientKey,
		description: "Too many registrations from this address; try again later."}.handler(store, m)
	ceiling := rateLimit{name: "register_global", perMinute: global, key: func(*http.Request) string { return "all" },
		description: "Too many registrations; try again later."}.handler(store, m)
	networks = slices.Clone(networks)
	slices.SortStableFunc(networks, func(a, b networkLimit) int { return b.Prefix.Bits() - a.Prefix.Bits() })
	byNetwork := make([]func(http.Handler) http.Handler, len(networks))
	for i, n := range networks {
		key := n.Prefix.String()
		byNetwork[i] = rateLimit{name: "register_network", perMinute: n.PerMinute, key: func(*http.Request) string { return key },
			description: "Too many registrations from this network; try again later."}.handler(store, m)
	}
	if address == nil && ceiling == nil && len(networks) == 0 {
		return nil
	}
	return func(next http.Handler) http.Handler {
		inner := next
		if ceiling != nil {
			inner = ceiling(next)
		}
		perAddress := inner
		if address != nil {
			perAddress = address(inner)
		}
		perNetwork := make([]http.Handler, len(byNetwork))
		for i, limit := range byNetwork {
			perNetwork[i] = limit(inner)
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if len(networks) > 0 {
				if addr, err := netip.ParseAddr(middleware.GetClientIP(r.Context())); err == nil {
					addr = addr.Unmap()
					for i, n := range networks {
						if n.Prefix.Contains(addr) {
							perNetwork[i].ServeHTTP(w, r)
							return
						}
					}
				}
			}
			perAddress.ServeHTTP(w, r)
		})
	}
}

// clientKey is the client's address, as the client IP middleware derived
// it (see DCR_TRUSTED_PROXIES).
func clientKey(r *http.Request) string {
	return httprate.CanonicalizeIP(middleware.GetClientIP(r.Context()))
}

// tooManyRequests answers a rate-limited request with an RFC-shaped JSON
// error (dcr.WriteError); Retry-After is set already.
func tooManyRequests(description string) http.HandlerFunc {
	refusal := &dcr.Error{Status: http.StatusTooManyRequests, Code: dcr.TemporarilyUnavailable, Description: description}
	return func(w http.ResponseWriter, r *http.Request) { dcr.WriteError(w, refusal) }
}

// redisLogger sends go-redis's own log lines to the server's logger.
type redisLogger struct{ logger *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.logger.WarnContext(ctx, "redis", "message", fmt.Sprintf(format, v...))
}
