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
	"github.com/dcr-go/dcr/example/internal/redisurl"
	"github.com/dcr-go/dcr/internal/cli"
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
	// staticToken is DCR_INITIAL_ACCESS_TOKEN itself, for the request
	// log to leave out (logRequests); never logged.
	staticToken string
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
	// stops listening. Default 10s (see declared); 0 stops listening at
	// once (a quick Ctrl-C on a laptop).
	ShutdownDrain time.Duration
}

// minInitialAccessTokenLen is the shortest DCR_INITIAL_ACCESS_TOKEN
// accepted: 16 characters of a random base64url string are 96 bits.
const minInitialAccessTokenLen = 16

// A setting is one DCR_* variable, declared once: -h lists it (usage),
// settingsFrom parses it, docs/deployment.md's table describes it
// (TestDocsTableMatchesSettings), each in the order of declared.
type setting struct {
	Name string
	// Default is the value the variable takes when it is unset or empty;
	// "" leaves the zero value of its field. -h and the docs' table say
	// it (TestUsageStatesDefaults, TestDocsTableMatchesSettings).
	Default string
	// Help is the variable's description in -h; each "\n" starts a
	// continuation line.
	Help string
	// set parses v, the variable's value (never ""), into s; its error
	// names the variable, name.
	set func(s *settings, name, v string) error
}

// declared are the example's settings, in the order of -h. The checks
// between settings are in settings.check. A new setting is an entry here
// (and the field it sets), a case in TestEachSettingReachesItsField and a
// row in docs/deployment.md's table; the tests fail until all three are.
var declared = []setting{
	{Name: "DCR_PUBLIC_URL", Help: "the URL clients reach the server at, e.g. https://auth.example.com (default: the listening address)",
		set: setPublicURL},
	{Name: "DCR_EMBEDDED_EMULATOR", Help: "true: run the embedded emulator even off loopback (a demo, never production)",
		set: setBool(func(s *settings) *bool { return &s.EmbeddedEmulator })},
	{Name: "DCR_INITIAL_ACCESS_TOKEN", Help: "if set (16 characters at least), registration requires this bearer token",
		set: setInitialAccessToken},
	{Name: "DCR_SOFTWARE_STATEMENT_ISSUERS", Help: "ISSUER=JWKS_URL[,ISSUER=JWKS_URL]: verify software statements (RFC 7591 §2.3) of\n" +
		"these issuers; their claims win over the request's members",
		set: setSoftwareStatementIssuers},
	{Name: "DCR_SOFTWARE_STATEMENT_REQUIRED", Help: "true: a registration without a valid software statement is refused",
		set: setBool(func(s *settings) *bool { return &s.SoftwareStatementRequired })},
	{Name: "DCR_IAT_STORE", Help: "redis: registration requires an initial access token issued by dcr-iat, with\n" +
		"expiry and uses, kept in DCR_REDIS_URL",
		set: setIATStore},
	{Name: "DCR_RATE_LIMIT", Default: "60", Help: "registrations per minute per client address (default 60; 0: off)",
		set: setPerMinute(func(s *settings) *int { return &s.RateLimit })},
	{Name: "DCR_RATE_LIMIT_NETWORKS", Help: "CIDR=PER_MINUTE[,...]: registrations from an address in such a network share its\n" +
		"budget instead of DCR_RATE_LIMIT each, e.g. 160.79.104.0/21=600 (claude.ai's egress)",
		set: setNetworkLimits},
	{Name: "DCR_RATE_LIMIT_GLOBAL", Default: "0", Help: "registrations per minute from all addresses together, protecting Authlete (default 0: off)",
		set: setPerMinute(func(s *settings) *int { return &s.GlobalRateLimit })},
	{Name: "DCR_MANAGEMENT_RATE_LIMIT", Default: "600", Help: "client configuration requests per minute per client address (default 600; 0: off)",
		set: setPerMinute(func(s *settings) *int { return &s.ManagementRateLimit })},
	{Name: "DCR_REDIS_URL", Help: "redis://[:password@]host:port/db: count the rate limits there, shared by every replica",
		set: setRedisURL},
	{Name: "DCR_TRUSTED_PROXIES", Help: "comma-separated CIDRs of the proxies in front: the client address is then the\n" +
		"rightmost X-Forwarded-For entry outside them",
		set: setTrustedProxies},
	{Name: "DCR_CORS_ORIGINS", Default: "*", Help: "comma-separated origins allowed to call the DCR endpoints from a browser (default *)",
		set: setCORSOrigins},
	{Name: "DCR_DEFAULT_SCOPE", Help: "the scope of registrations that ask none, e.g. mcp",
		set: func(s *settings, _, v string) error { s.DefaultScope = strings.TrimSpace(v); return nil }},
	{Name: "DCR_ALLOWED_SCOPES", Help: "space-separated scopes a client may register; others are dropped (unset: any)",
		set: setAllowedScopes},
	{Name: "DCR_INFO_URIS_ON_REDIRECT_HOST", Help: "true: logo_uri, client_uri, policy_uri and tos_uri must be on a redirect URI's host",
		set: setBool(func(s *settings) *bool { return &s.InfoOnRedirectHost })},
	{Name: "DCR_METADATA_POLICY", Help: "a JSON file: an OpenID Federation 1.0 §6.1 metadata policy for registrations and updates",
		set: setMetadataPolicy},
	{Name: "DCR_METRICS_ADDR", Help: "host:port to serve /metrics on instead of the public address, e.g. 127.0.0.1:9090",
		set: setMetricsAddr},
	// The default drain is long enough for Kubernetes to take a
	// terminating pod out of its Service's endpoints, and for the load
	// balancers and kube-proxies that read them to follow.
	{Name: "DCR_SHUTDOWN_DRAIN", Default: "10s", Help: "after SIGTERM or SIGINT, how long /readyz answers 503 while requests are still\n" +
		"served, for the load balancer to stop routing here (default 10s); then\n" +
		"the server stops listening and gives the requests in flight up to " + shutdownTimeout.String() + " to finish.\n" +
		"DCR_SHUTDOWN_DRAIN=0 makes Ctrl-C quick on a laptop; a second signal exits at once",
		set: setShutdownDrain},
}

// settingsFromEnv reads the settings from the environment, after
// checkNames.
func settingsFromEnv() (settings, error) {
	if err := checkNames(os.Environ()); err != nil {
		return settings{}, err
	}
	return settingsFrom(os.Getenv)
}

// checkNames refuses a variable of environ ("NAME=value") whose name is a
// near miss of a setting's (DCR_RATE_LIMT, dcr_rate_limit): unread, it
// would leave the setting at its default without a word, and a mistyped
// DCR_INITIAL_ACCESS_TOKEN leaves registration open. A near miss is the
// name in another case, or at most two letters away. Other DCR_* names
// are left alone: Kubernetes gives every pod DCR_SERVICE_HOST, DCR_PORT
// and the like for a Service named dcr.
func checkNames(environ []string) error {
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		upper := strings.ToUpper(name)
		if !strings.HasPrefix(upper, "DCR_") || slices.ContainsFunc(declared, func(d setting) bool { return d.Name == name }) {
			continue
		}
		for _, d := range declared {
			if upper == d.Name || editDistance(upper, d.Name) <= 2 {
				return fmt.Errorf("%s is not a setting; did you mean %s? (-h lists them)", name, d.Name)
			}
		}
	}
	return nil
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// settingsFrom reads the settings declared from getenv: each one's
// default, then its value if set, then the checks between them.
func settingsFrom(getenv func(string) string) (settings, error) {
	var s settings
	for _, d := range declared {
		for _, v := range []string{d.Default, getenv(d.Name)} {
			if v == "" {
				continue
			}
			if err := d.set(&s, d.Name, v); err != nil {
				return s, err
			}
		}
	}
	return s, s.check()
}

// check refuses the settings that cannot work together.
func (s *settings) check() error {
	if s.DefaultScope != "" && s.AllowedScopes != nil {
		for _, scope := range strings.Fields(s.DefaultScope) {
			if !slices.Contains(s.AllowedScopes, scope) {
				return fmt.Errorf("DCR_DEFAULT_SCOPE %q is not in DCR_ALLOWED_SCOPES %q", scope, strings.Join(s.AllowedScopes, " "))
			}
		}
	}
	if s.IATStore != "" && s.Redis == nil {
		return errors.New("DCR_IAT_STORE=redis needs DCR_REDIS_URL, the Redis the replicas share")
	}
	if s.IATStore != "" && s.InitialAccessToken != nil {
		return errors.New("DCR_IAT_STORE and DCR_INITIAL_ACCESS_TOKEN exclude each other: issue the token with dcr-iat instead")
	}
	if s.SoftwareStatementRequired && s.SoftwareStatements == nil {
		return errors.New("DCR_SOFTWARE_STATEMENT_REQUIRED needs DCR_SOFTWARE_STATEMENT_ISSUERS, the issuers to trust")
	}
	return nil
}

// setBool returns the set of a true-or-false setting: true or 1, false
// or 0 or blank, in any case.
func setBool(field func(*settings) *bool) func(*settings, string, string) error {
	return func(s *settings, name, v string) error {
		switch v := strings.TrimSpace(v); strings.ToLower(v) {
		case "", "false", "0":
			*field(s) = false
		case "true", "1":
			*field(s) = true
		default:
			return fmt.Errorf("%s %q is neither true nor false", name, v)
		}
		return nil
	}
}

// setPerMinute returns the set of a rate limit: requests per minute, 0
// for none.
func setPerMinute(field func(*settings) *int) func(*settings, string, string) error {
	return func(s *settings, name, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s %q is not a number of requests per minute (0 turns the limit off)", name, v)
		}
		*field(s) = n
		return nil
	}
}

func setShutdownDrain(s *settings, name, v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil // blank: the default
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("%s %q is not a duration such as 10s (0: stop listening at once)", name, v)
	}
	s.ShutdownDrain = d
	return nil
}

func setRedisURL(s *settings, name, v string) error {
	opts, err := redisurl.Parse(v)
	if err != nil {
		return fmt.Errorf("%s is not a redis:// or rediss:// URL: %w", name, err)
	}
	s.Redis = opts
	return nil
}

func setPublicURL(s *settings, name, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || !validPort(u.Port()) || u.User != nil || strings.ContainsAny(v, "?#") {
		return fmt.Errorf("%s %q is not an http or https URL with a host (and a port of 1 to 65535) without user, query or fragment, such as https://auth.example.com", name, v)
	}
	s.PublicURL = strings.TrimRight(u.String(), "/")
	return nil
}

// validPort reports whether port, a URL's, is absent or 1 to 65535.
func validPort(port string) bool {
	n, err := strconv.Atoi(port)
	return port == "" || err == nil && n >= 1 && n <= 65535
}

// setInitialAccessToken never puts the token in its error.
func setInitialAccessToken(s *settings, name, v string) error {
	verify, err := dcr.StaticTokens(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(v) < minInitialAccessTokenLen {
		return fmt.Errorf("%s is %d characters long; use at least %d random ones, e.g. openssl rand -base64 24", name, len(v), minInitialAccessTokenLen)
	}
	s.InitialAccessToken, s.staticToken = verify, v
	return nil
}

func setNetworkLimits(s *settings, name, v string) error {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	networks, err := parseNetworkLimits(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	s.NetworkRateLimits = networks
	return nil
}

func setAllowedScopes(s *settings, _, v string) error {
	// Blank allows any scope: strings.Fields("") is an empty, non-nil
	// slice, which would allow none and drop every scope.
	if allowed := strings.Fields(v); len(allowed) > 0 {
		s.AllowedScopes = allowed
	}
	return nil
}

func setTrustedProxies(s *settings, name, v string) error {
	for _, p := range cli.List(v) {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return fmt.Errorf("%s: %q is neither a CIDR such as 10.0.0.0/8 nor an address", name, p)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		s.TrustedProxies = append(s.TrustedProxies, prefix.Masked().String())
	}
	if len(s.TrustedProxies) == 0 {
		return fmt.Errorf("%s %q names no proxy", name, v)
	}
	return nil
}

func setSoftwareStatementIssuers(s *settings, name, v string) error {
	issuers := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		// The issuer is a URL too: split at the "=" before the JWKS URL's scheme.
		i := strings.LastIndex(pair, "=http")
		if i <= 0 {
			return fmt.Errorf("%s: %q is not ISSUER=JWKS_URL", name, pair)
		}
		issuers[strings.TrimSpace(pair[:i])] = strings.TrimSpace(pair[i+1:])
	}
	verifier, err := softwarestatement.New(softwarestatement.Options{Issuers: issuers})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	s.SoftwareStatements = verifier
	return nil
}

// setIATStore: the only store is redis; settings.check wants
// DCR_REDIS_URL with it.
func setIATStore(s *settings, name, v string) error {
	if v != "redis" {
		return fmt.Errorf("%s %q: the only store is redis", name, v)
	}
	s.IATStore = v
	return nil
}

func setMetadataPolicy(s *settings, name, v string) error {
	data, err := os.ReadFile(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if s.MetadataPolicy, err = policy.ParseMetadataPolicy(data); err != nil {
		return fmt.Errorf("%s %s: %w", name, v, err)
	}
	s.MetadataPolicyJSON = string(data)
	return nil
}

func setMetricsAddr(s *settings, name, v string) error {
	s.MetricsAddr = strings.TrimSpace(v)
	if s.MetricsAddr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(s.MetricsAddr); err != nil {
		return fmt.Errorf("%s %q is not host:port, such as 127.0.0.1:9090", name, s.MetricsAddr)
	}
	return nil
}

func setCORSOrigins(s *settings, name, v string) error {
	if s.CORSOrigins = cli.List(v); len(s.CORSOrigins) == 0 {
		return fmt.Errorf("%s %q names no origin", name, v)
	}
	return nil
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

// trustsEveryone is the first of the trusted proxies' prefixes that holds
// every address (0.0.0.0/0, ::/0), "" if none does.
func trustsEveryone(proxies []string) string {
	for _, p := range proxies {
		if prefix, err := netip.ParsePrefix(p); err == nil && prefix.Bits() == 0 {
			return p
		}
	}
	return ""
}
