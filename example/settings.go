package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/policy"
	"github.com/dcr-go/dcr/softwarestatement"
)

// settings are the example's own knobs, from DCR_* variables.
type settings struct {
	// PublicURL is DCR_PUBLIC_URL, without a trailing slash: the base URL
	// clients reach the server at, e.g. https://auth.example.com. Empty
	// means the listening address.
	PublicURL string
	// InitialAccessToken checks DCR_INITIAL_ACCESS_TOKEN; nil means
	// registration is open.
	InitialAccessToken func(ctx context.Context, token string) error
	// RefundInitialAccessToken gives a use back (DCR_IAT_STORE).
	RefundInitialAccessToken func(ctx context.Context, token string)
	// RateLimit is DCR_RATE_LIMIT: registrations per minute per client IP;
	// 0 means no limit.
	RateLimit int
	// ManagementRateLimit is DCR_MANAGEMENT_RATE_LIMIT: client
	// configuration requests (GET, PUT, DELETE) per minute per client IP;
	// 0 means no limit.
	ManagementRateLimit int
	// NetworkRateLimits is DCR_RATE_LIMIT_NETWORKS
	// (CIDR=PER_MINUTE[,CIDR=PER_MINUTE]): registrations from an address
	// in such a network share the network's budget instead of having
	// RateLimit each. Nil means none.
	NetworkRateLimits []networkLimit
	// GlobalRateLimit is DCR_RATE_LIMIT_GLOBAL: registrations per minute
	// from all addresses together, a ceiling that protects Authlete; 0
	// means none.
	GlobalRateLimit int
	// Redis is DCR_REDIS_URL, parsed: where the rate limits are counted,
	// shared by every replica. Nil means in memory, per process.
	Redis *redis.Options
	// CORSOrigins is DCR_CORS_ORIGINS.
	CORSOrigins []string
	// DefaultScope is DCR_DEFAULT_SCOPE: the scope of registrations that
	// ask none; "" leaves them alone.
	DefaultScope string
	// AllowedScopes is DCR_ALLOWED_SCOPES, space-separated: requested
	// scopes outside it are dropped; nil allows any.
	AllowedScopes []string
	// TrustedProxies is DCR_TRUSTED_PROXIES, comma-separated CIDRs (or
	// addresses): from such a peer, the client's address is the rightmost
	// X-Forwarded-For entry outside them. Nil means the peer's address.
	TrustedProxies []string
	// MetricsAddr is DCR_METRICS_ADDR: where /metrics is served, e.g.
	// 127.0.0.1:9090. Empty means on the public address, not readable
	// cross-origin.
	MetricsAddr string
	// MetadataPolicy is the file DCR_METADATA_POLICY names, parsed: an
	// OpenID Federation 1.0 §6.1 metadata policy applied to registrations
	// and updates; nil means none. MetadataPolicyJSON is its text.
	MetadataPolicy     *policy.MetadataPolicy
	MetadataPolicyJSON string
	// SoftwareStatements is DCR_SOFTWARE_STATEMENT_ISSUERS
	// (ISSUER=JWKS_URL[,ISSUER=JWKS_URL]), as a verifier; nil means
	// statements are not verified. SoftwareStatementRequired is
	// DCR_SOFTWARE_STATEMENT_REQUIRED=true.
	SoftwareStatements        *softwarestatement.Verifier
	SoftwareStatementRequired bool
	// IATStore is DCR_IAT_STORE: "redis" keeps initial access tokens with
	// expiry and uses in the Redis of DCR_REDIS_URL (see cmd/dcr-iat); ""
	// means none.
	IATStore string
	// InfoOnRedirectHost is DCR_INFO_URIS_ON_REDIRECT_HOST=true: logo_uri,
	// client_uri, policy_uri and tos_uri on a redirect URI's host.
	InfoOnRedirectHost bool
	// EmbeddedEmulator is DCR_EMBEDDED_EMULATOR=true: without AUTHLETE_*
	// variables, run the embedded emulator even where it is not implied
	// (a public address or DCR_PUBLIC_URL).
	EmbeddedEmulator bool
	// ShutdownDrain is DCR_SHUTDOWN_DRAIN: after SIGTERM or SIGINT, how
	// long /readyz answers 503 while the server still accepts and serves
	// requests, so that the load balancer stops routing to it before it
	// stops listening. Default defaultShutdownDrain; 0 stops listening at
	// once (a quick Ctrl-C on a laptop).
	ShutdownDrain time.Duration
}

// Defaults of the settings.
const (
	defaultRateLimit           = 60
	defaultManagementRateLimit = 600
	// defaultShutdownDrain is long enough for Kubernetes to take a
	// terminating pod out of its Service's endpoints, and for the load
	// balancers and kube-proxies that read them to follow.
	defaultShutdownDrain = 10 * time.Second
	// minInitialAccessTokenLen is the shortest DCR_INITIAL_ACCESS_TOKEN
	// accepted: 16 characters of a random base64url string are 96 bits.
	minInitialAccessTokenLen = 16
)

func settingsFromEnv() (settings, error) {
	s := settings{RateLimit: defaultRateLimit, ManagementRateLimit: defaultManagementRateLimit,
		CORSOrigins: []string{"*"}, ShutdownDrain: defaultShutdownDrain}
	if v := strings.TrimSpace(os.Getenv("DCR_SHUTDOWN_DRAIN")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return s, fmt.Errorf("DCR_SHUTDOWN_DRAIN %q is not a duration such as 10s (0: stop listening at once)", v)
		}
		s.ShutdownDrain = d
	}
	if v := os.Getenv("DCR_REDIS_URL"); v != "" {
		opts, err := redis.ParseURL(v)
		if err != nil {
			return s, fmt.Errorf("DCR_REDIS_URL is not a redis:// or rediss:// URL: %w", err)
		}
		s.Redis = opts
	}
	if v := os.Getenv("DCR_PUBLIC_URL"); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || strings.ContainsAny(v, "?#") {
			return s, fmt.Errorf("DCR_PUBLIC_URL %q is not an http or https URL without user, query or fragment, such as https://auth.example.com", v)
		}
		s.PublicURL = strings.TrimRight(u.String(), "/")
	}
	if v := os.Getenv("DCR_INITIAL_ACCESS_TOKEN"); v != "" {
		verify, err := dcr.StaticTokens(v)
		if err != nil {
			return s, fmt.Errorf("DCR_INITIAL_ACCESS_TOKEN: %w", err)
		}
		if len(v) < minInitialAccessTokenLen {
			return s, fmt.Errorf("DCR_INITIAL_ACCESS_TOKEN is %d characters long; use at least %d random ones, e.g. openssl rand -base64 24", len(v), minInitialAccessTokenLen)
		}
		s.InitialAccessToken = verify
	}
	if v := os.Getenv("DCR_RATE_LIMIT_NETWORKS"); strings.TrimSpace(v) != "" {
		networks, err := parseNetworkLimits(v)
		if err != nil {
			return s, fmt.Errorf("DCR_RATE_LIMIT_NETWORKS: %w", err)
		}
		s.NetworkRateLimits = networks
	}
	for name, limit := range map[string]*int{"DCR_RATE_LIMIT": &s.RateLimit, "DCR_MANAGEMENT_RATE_LIMIT": &s.ManagementRateLimit,
		"DCR_RATE_LIMIT_GLOBAL": &s.GlobalRateLimit} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return s, fmt.Errorf("%s %q is not a number of requests per minute (0 turns the limit off)", name, v)
			}
			*limit = n
		}
	}
	s.DefaultScope = strings.TrimSpace(os.Getenv("DCR_DEFAULT_SCOPE"))
	// Unset or blank allows any scope: strings.Fields("") is an empty,
	// non-nil slice, which would allow none and drop every scope.
	if allowed := strings.Fields(os.Getenv("DCR_ALLOWED_SCOPES")); len(allowed) > 0 {
		s.AllowedScopes = allowed
	}
	if s.DefaultScope != "" && s.AllowedScopes != nil {
		for _, scope := range strings.Fields(s.DefaultScope) {
			if !slices.Contains(s.AllowedScopes, scope) {
				return s, fmt.Errorf("DCR_DEFAULT_SCOPE %q is not in DCR_ALLOWED_SCOPES %q", scope, strings.Join(s.AllowedScopes, " "))
			}
		}
	}
	if v := os.Getenv("DCR_TRUSTED_PROXIES"); v != "" {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			prefix, err := netip.ParsePrefix(p)
			if err != nil {
				addr, aerr := netip.ParseAddr(p)
				if aerr != nil {
					return s, fmt.Errorf("DCR_TRUSTED_PROXIES: %q is neither a CIDR such as 10.0.0.0/8 nor an address", p)
				}
				prefix = netip.PrefixFrom(addr, addr.BitLen())
			}
			s.TrustedProxies = append(s.TrustedProxies, prefix.Masked().String())
		}
		if len(s.TrustedProxies) == 0 {
			return s, fmt.Errorf("DCR_TRUSTED_PROXIES %q names no proxy", v)
		}
	}
	if v := os.Getenv("DCR_SOFTWARE_STATEMENT_ISSUERS"); v != "" {
		issuers := map[string]string{}
		for _, pair := range strings.Split(v, ",") {
			// The issuer is a URL too: split at the "=" before the JWKS URL's scheme.
			i := strings.LastIndex(pair, "=http")
			if i <= 0 {
				return s, fmt.Errorf("DCR_SOFTWARE_STATEMENT_ISSUERS: %q is not ISSUER=JWKS_URL", pair)
			}
			issuers[strings.TrimSpace(pair[:i])] = strings.TrimSpace(pair[i+1:])
		}
		v, err := softwarestatement.New(softwarestatement.Options{Issuers: issuers})
		if err != nil {
			return s, fmt.Errorf("DCR_SOFTWARE_STATEMENT_ISSUERS: %w", err)
		}
		s.SoftwareStatements = v
	}
	switch v := os.Getenv("DCR_IAT_STORE"); v {
	case "":
	case "redis":
		if s.Redis == nil {
			return s, errors.New("DCR_IAT_STORE=redis needs DCR_REDIS_URL, the Redis the replicas share")
		}
		if s.InitialAccessToken != nil {
			return s, errors.New("DCR_IAT_STORE and DCR_INITIAL_ACCESS_TOKEN exclude each other: issue the token with dcr-iat instead")
		}
		s.IATStore = v
	default:
		return s, fmt.Errorf("DCR_IAT_STORE %q: the only store is redis", v)
	}
	if v := os.Getenv("DCR_METADATA_POLICY"); v != "" {
		data, err := os.ReadFile(v)
		if err != nil {
			return s, fmt.Errorf("DCR_METADATA_POLICY: %w", err)
		}
		if s.MetadataPolicy, err = policy.ParseMetadataPolicy(data); err != nil {
			return s, fmt.Errorf("DCR_METADATA_POLICY %s: %w", v, err)
		}
		s.MetadataPolicyJSON = string(data)
	}
	s.MetricsAddr = strings.TrimSpace(os.Getenv("DCR_METRICS_ADDR"))
	if s.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(s.MetricsAddr); err != nil {
			return s, fmt.Errorf("DCR_METRICS_ADDR %q is not host:port, such as 127.0.0.1:9090", s.MetricsAddr)
		}
	}
	for name, flag := range map[string]*bool{"DCR_EMBEDDED_EMULATOR": &s.EmbeddedEmulator, "DCR_INFO_URIS_ON_REDIRECT_HOST": &s.InfoOnRedirectHost,
		"DCR_SOFTWARE_STATEMENT_REQUIRED": &s.SoftwareStatementRequired} {
		switch v := strings.TrimSpace(os.Getenv(name)); strings.ToLower(v) {
		case "", "false", "0":
		case "true", "1":
			*flag = true
		default:
			return s, fmt.Errorf("%s %q is neither true nor false", name, v)
		}
	}
	if s.SoftwareStatementRequired && s.SoftwareStatements == nil {
		return s, errors.New("DCR_SOFTWARE_STATEMENT_REQUIRED needs DCR_SOFTWARE_STATEMENT_ISSUERS, the issuers to trust")
	}
	if v := os.Getenv("DCR_CORS_ORIGINS"); v != "" {
		s.CORSOrigins = nil
		for _, origin := range strings.Split(v, ",") {
			if origin = strings.TrimSpace(origin); origin != "" {
				s.CORSOrigins = append(s.CORSOrigins, origin)
			}
		}
		if len(s.CORSOrigins) == 0 {
			return s, fmt.Errorf("DCR_CORS_ORIGINS %q names no origin", v)
		}
	}
	return s, nil
}

// parseNetworkLimits parses DCR_RATE_LIMIT_NETWORKS:
// CIDR=PER_MINUTE[,CIDR=PER_MINUTE], e.g. 160.79.104.0/21=600.
func parseNetworkLimits(v string) ([]networkLimit, error) {
	var out []networkLimit
	seen := map[netip.Prefix]bool{}
	for _, entry := range strings.Split(v, ",") {
		entry = strings.TrimSpace(entry)
		cidr, limit, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not CIDR=PER_MINUTE, such as 160.79.104.0/21=600", entry)
		}
		prefix, err := netip.ParsePrefix(strings.TrimSpace(cidr))
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 160.79.104.0/21", cidr)
		}
		if prefix.Addr().Is4In6() {
			return nil, fmt.Errorf("%q: write an IPv4 network as such, not as an IPv4-mapped IPv6 one", cidr)
		}
		if prefix != prefix.Masked() {
			return nil, fmt.Errorf("%q has bits set beyond its prefix length; did you mean %s?", cidr, prefix.Masked())
		}
		n, err := strconv.Atoi(strings.TrimSpace(limit))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number of registrations per minute", limit)
		}
		if seen[prefix] {
			return nil, fmt.Errorf("%s is listed twice", prefix)
		}
		seen[prefix] = true
		out = append(out, networkLimit{Prefix: prefix, PerMinute: n})
	}
	return out, nil
}
