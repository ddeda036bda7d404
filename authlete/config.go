package authlete

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/dcr-go/dcr/internal/authleteapi"
)

// APIVersion is a version of Authlete's API.
type APIVersion string

// API versions of Authlete: "V3" and "V2".
const (
	V3 APIVersion = authleteapi.V3
	V2 APIVersion = authleteapi.V2
)

// Defaults used where a Config field is zero.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultTotalTimeout     = 20 * time.Second
	DefaultMaxConns         = 256
	DefaultMaxResponseBytes = 4 << 20
	// DefaultV2BaseURL is https://api.authlete.com.
	DefaultV2BaseURL    = authleteapi.DefaultV2BaseURL
	DefaultRetries      = 2
	DefaultRetryBackoff = 100 * time.Millisecond
)

// Config says which Authlete service to call and how. The zero value of
// each optional field selects the documented default.
type Config struct {
	// BaseURL is Authlete's base URL, such as https://us.authlete.com.
	// API v3 requires it; for API v2 empty means DefaultV2BaseURL.
	BaseURL string
	// APIVersion is V3 or V2 (case-insensitive). Empty means V3.
	APIVersion APIVersion
	// ServiceAPIKey is the service's API key: with V3 the numeric service
	// ID that goes into the URL path.
	ServiceAPIKey string
	// ServiceAPISecret is the service's API secret (V2 only).
	ServiceAPISecret string
	// ServiceAccessToken is the service access token (V3 only).
	ServiceAccessToken string

	// Timeout bounds each attempt of a call, from sending the request to
	// reading the whole answer. Zero means DefaultTimeout; negative means
	// none beyond the caller's context, which bounds all attempts.
	Timeout time.Duration
	// TotalTimeout bounds a whole call: every attempt, the waits between
	// them and a Retry-After. A call that runs out of it fails with
	// context.DeadlineExceeded (a 504 from dcr.DefaultErrorHandler), and a
	// retry that could not finish in time is not started. An HTTP server
	// in front of the Client must allow a request this long after reading
	// its body (WriteTimeout > ReadTimeout + TotalTimeout), or its clients
	// get an empty reply instead of the 504. Zero means
	// DefaultTotalTimeout; negative means none beyond the caller's context.
	TotalTimeout time.Duration
	// Retries is how many times Get and Delete are tried again after a
	// transport failure (a timed-out attempt included) or HTTP 502, 503 or
	// 504. Register and Update are never retried: they are not idempotent.
	// HTTP 429 is never retried: Authlete counts every call, and a client
	// configuration request has proven nothing before Authlete checks its
	// token. Zero means DefaultRetries; negative means none.
	Retries int
	// RetryBackoff is the wait before the first retry; it doubles for each
	// further one, with jitter, and a longer Retry-After from Authlete wins
	// (up to MaxRetryWait). Zero means DefaultRetryBackoff.
	RetryBackoff time.Duration
	// HTTPClient sends the calls. Nil means a client of the package's own
	// with a connection pool of MaxConns connections to Authlete: see
	// NewTransport, which also shows how to trace the calls.
	HTTPClient *http.Client
	// MaxConns bounds the connections to Authlete, busy or idle, of the
	// default HTTPClient: calls beyond it wait for a free connection, and
	// every connection can stay idle, so none is closed for lack of room
	// and reopened (Go's default transport keeps only 2 idle connections
	// per host). Zero means DefaultMaxConns. Ignored when HTTPClient is set.
	MaxConns int
	// MaxResponseBytes bounds the size of an answer read from Authlete.
	// Zero means DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// ConfigFromEnv reads a Config from the environment variables that
// Authlete's own libraries use: AUTHLETE_BASE_URL, AUTHLETE_API_VERSION,
// AUTHLETE_SERVICE_APIKEY, AUTHLETE_SERVICE_APISECRET and
// AUTHLETE_SERVICE_ACCESSTOKEN. It does not validate them; New does.
func ConfigFromEnv() Config {
	return Config{
		BaseURL:            os.Getenv("AUTHLETE_BASE_URL"),
		APIVersion:         APIVersion(os.Getenv("AUTHLETE_API_VERSION")),
		ServiceAPIKey:      os.Getenv("AUTHLETE_SERVICE_APIKEY"),
		ServiceAPISecret:   os.Getenv("AUTHLETE_SERVICE_APISECRET"),
		ServiceAccessToken: os.Getenv("AUTHLETE_SERVICE_ACCESSTOKEN"),
	}
}

// String describes c without its secrets.
func (c Config) String() string {
	return fmt.Sprintf("authlete.Config{BaseURL:%q APIVersion:%q ServiceAPIKey:%q ServiceAPISecret:%q ServiceAccessToken:%q}",
		authleteapi.ShownURL(c.BaseURL), c.APIVersion, c.ServiceAPIKey, redacted(c.ServiceAPISecret), redacted(c.ServiceAccessToken))
}

// LogValue makes log/slog print c without its secrets (and the base URL
// without user information), and with the API version in effect (V3 when
// APIVersion is empty).
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", authleteapi.ShownURL(c.BaseURL)),
		slog.String("api_version", string(c.version())),
		slog.String("service_api_key", c.ServiceAPIKey),
		slog.String("service_api_secret", redacted(c.ServiceAPISecret)),
		slog.String("service_access_token", redacted(c.ServiceAccessToken)),
	)
}

// version is the API version in effect: APIVersion in upper case, V3
// when it is empty.
func (c Config) version() APIVersion {
	return APIVersion(authleteapi.Version(string(c.APIVersion)))
}

// redacted stands for a secret: "" for none, REDACTED for any other.
func redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return "REDACTED"
}

// conn checks c and returns the connection of a Client to its service.
func (c Config) conn() (*authleteapi.Conn, error) {
	hc := c.HTTPClient
	if hc == nil {
		conns := c.MaxConns
		if conns <= 0 {
			conns = DefaultMaxConns
		}
		hc = &http.Client{Transport: NewTransport(conns)}
	}
	return authleteapi.NewConn(authleteapi.Service{BaseURL: c.BaseURL, Version: string(c.APIVersion),
		APIKey: c.ServiceAPIKey, APISecret: c.ServiceAPISecret, AccessToken: c.ServiceAccessToken,
		HTTP: hc, Timeout: cmp.Or(c.Timeout, DefaultTimeout), MaxResponse: cmp.Or(max(c.MaxResponseBytes, 0), DefaultMaxResponseBytes)})
}
