package main

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
	httprateredis "github.com/go-chi/httprate-redis"
	"github.com/redis/go-redis/v9"
)

// redisTimeout bounds each Redis command of the rate limiter. Past it the
// limiter counts in memory until Redis answers again: registrations never
// wait on, or fail with, the limiter's store.
const redisTimeout = 500 * time.Millisecond

// newRedis connects to the Redis of DCR_REDIS_URL with timeouts short
// enough that the limiter falls back to memory at once.
func newRedis(opts *redis.Options) *redis.Client {
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 2*redisTimeout, redisTimeout, redisTimeout
	opts.MaxRetries = -1 // fall back at once; the limiter retries by itself
	opts.DisableIdentity = true
	return redis.NewClient(opts)
}

// limiter returns a per-IP limit of perMinute requests on the requests it
// wraps, counted in Redis under prefix when rdb is not nil, in memory
// otherwise, or nil when perMinute is 0. Redis failures are logged and
// counted; meanwhile each process counts on its own.
func limiter(perMinute int, prefix string, rdb *redis.Client, logger *slog.Logger, m *metrics, description string) func(http.Handler) http.Handler {
	if perMinute == 0 {
		return nil
	}
	opts := []httprate.Option{httprate.WithLimitHandler(tooManyRequests(description))}
	if rdb != nil {
		opts = append(opts, httprate.WithLimitCounter(httprateredis.NewCounter(&httprateredis.Config{
			Client:          rdb,
			PrefixKey:       "dcr:ratelimit:" + prefix,
			WindowLength:    time.Minute,
			FallbackTimeout: redisTimeout,
			OnError: func(err error) {
				m.limiterStoreErrors.WithLabelValues(prefix).Inc()
				logger.Warn("rate limit store failed; counting in memory until it answers", "limit", prefix, "error", err)
			},
			OnFallbackChange: func(activated bool) {
				if !activated {
					logger.Info("rate limit store answers again", "limit", prefix)
				}
			},
		})))
	}
	return httprate.LimitBy(perMinute, time.Minute, func(r *http.Request) (string, error) {
		return httprate.CanonicalizeIP(middleware.GetClientIP(r.Context())), nil
	}, opts...)
}

// tooManyRequests answers a rate-limited request with an RFC-shaped JSON
// error; httprate has set Retry-After.
func tooManyRequests(description string) http.HandlerFunc {
	body := `{"error":"temporarily_unavailable","error_description":"` + description + `"}`
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, body)
	}
}

// byEndpoint applies registration to registration requests (those without
// a client ID) and management to client configuration requests; a nil one
// leaves its requests alone.
func byEndpoint(registration, management func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		reg, mgmt := next, next
		if registration != nil {
			reg = registration(next)
		}
		if management != nil {
			mgmt = management(next)
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.PathValue("client_id") == "" {
				reg.ServeHTTP(w, r)
				return
			}
			mgmt.ServeHTTP(w, r)
		})
	}
}
