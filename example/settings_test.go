package main

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCORSOriginsWithSpaces protects the second and later origins of a
// list written with spaces after the commas.
func TestCORSOriginsWithSpaces(t *testing.T) {
	base, _ := startExample(t, map[string]string{"DCR_CORS_ORIGINS": "https://a.example, https://b.example ,https://c.example"})
	for _, origin := range []string{"https://a.example", "https://b.example", "https://c.example"} {
		reg := send(t, "POST", base+"/register", "", `{}`, "Origin", origin)
		assert.Equal(t, origin, reg.header.Get("Access-Control-Allow-Origin"), origin)
	}
	other := send(t, "POST", base+"/register", "", `{}`, "Origin", "https://evil.example")
	assert.Empty(t, other.header.Get("Access-Control-Allow-Origin"))
}

// TestUnpresentableInitialAccessTokenStopsStartup protects operators from
// an initial access token that no client could send: the example refuses
// to start, naming the variable and the rule, without printing the value.
func TestUnpresentableInitialAccessTokenStopsStartup(t *testing.T) {
	for _, token := range []string{"s3cr3t!", "s3cr3t-from-a-file\n", strings.Repeat("x", 8<<10+1)} {
		t.Setenv("DCR_INITIAL_ACCESS_TOKEN", token)
		err := run(context.Background(), "127.0.0.1:0", slog.New(slog.DiscardHandler), nil)
		require.Error(t, err, "%q", token)
		assert.Contains(t, err.Error(), "DCR_INITIAL_ACCESS_TOKEN")
		assert.Contains(t, err.Error(), "RFC 6750 b64token")
		assert.NotContains(t, err.Error(), "s3cr3t")
	}
}

// TestShortInitialAccessTokenStopsStartup: a token an attacker could
// guess is refused, with the minimum, without printing it.
func TestShortInitialAccessTokenStopsStartup(t *testing.T) {
	for token, ok := range map[string]bool{"Z": false, "s3cr3t-01234567": false, "s3cr3t-012345678": true} {
		t.Setenv("DCR_INITIAL_ACCESS_TOKEN", token)
		_, err := settingsFromEnv()
		if ok {
			assert.NoError(t, err, token)
			continue
		}
		require.Error(t, err, token)
		assert.Contains(t, err.Error(), "at least 16")
		assert.NotContains(t, err.Error(), token)
	}
}

func TestBadSettings(t *testing.T) {
	t.Setenv("DCR_RATE_LIMIT", "lots")
	err := run(context.Background(), "127.0.0.1:0", slog.New(slog.DiscardHandler), nil)
	assert.ErrorContains(t, err, "DCR_RATE_LIMIT")

	t.Setenv("DCR_RATE_LIMIT", "")
	t.Setenv("DCR_DEFAULT_SCOPE", "admin")
	t.Setenv("DCR_ALLOWED_SCOPES", "mcp offline_access")
	err = run(context.Background(), "127.0.0.1:0", slog.New(slog.DiscardHandler), nil)
	assert.ErrorContains(t, err, `DCR_DEFAULT_SCOPE "admin" is not in DCR_ALLOWED_SCOPES "mcp offline_access"`)

	t.Setenv("DCR_DEFAULT_SCOPE", "")
	t.Setenv("AUTHLETE_SERVICE_APIKEY", "123") // set, but not enough
	err = run(context.Background(), "127.0.0.1:0", slog.New(slog.DiscardHandler), nil)
	assert.ErrorContains(t, err, "AUTHLETE_BASE_URL", "a partial Authlete configuration is an error, not a fallback to the emulator")
}

// TestBlackBoxSettingsRefused: settings that cannot work stop the example.
func TestBlackBoxSettingsRefused(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]string{
		"DCR_INITIAL_ACCESS_TOKEN=s3cr3t!":                                       "DCR_INITIAL_ACCESS_TOKEN",
		"DCR_INITIAL_ACCESS_TOKEN=s3cr3t-123":                                    "at least 16",
		"DCR_PUBLIC_URL=auth.example.com":                                        "DCR_PUBLIC_URL",
		"DCR_REDIS_URL=http://x":                                                 "DCR_REDIS_URL",
		"DCR_TRUSTED_PROXIES=10.0.0.0/33":                                        "DCR_TRUSTED_PROXIES",
		"DCR_TRUSTED_PROXIES=,":                                                  "names no proxy",
		"DCR_METRICS_ADDR=9090":                                                  "DCR_METRICS_ADDR",
		"DCR_EMBEDDED_EMULATOR=yes please":                                       "DCR_EMBEDDED_EMULATOR",
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://[::1:bad":                            "OTEL",
		"DCR_IAT_STORE=redis":                                                    "needs DCR_REDIS_URL",
		"DCR_IAT_STORE=memcached":                                                "DCR_IAT_STORE",
		"DCR_SOFTWARE_STATEMENT_REQUIRED=true":                                   "needs DCR_SOFTWARE_STATEMENT_ISSUERS",
		"DCR_SOFTWARE_STATEMENT_ISSUERS=https://i.example=http://i.example/jwks": "not https",
		"DCR_SOFTWARE_STATEMENT_ISSUERS=https://i.example":                       "ISSUER=JWKS_URL",
		"DCR_SHUTDOWN_DRAIN=10":                                                  "DCR_SHUTDOWN_DRAIN",
		"DCR_SHUTDOWN_DRAIN=-1s":                                                 "DCR_SHUTDOWN_DRAIN",
	} {
		p := start(t, binary(t, ".", false), []string{"DCR_INITIAL_ACCESS_TOKEN=", "DCR_PUBLIC_URL=", "DCR_REDIS_URL=",
			"DCR_TRUSTED_PROXIES=", "DCR_METRICS_ADDR=", "DCR_EMBEDDED_EMULATOR=", "OTEL_EXPORTER_OTLP_ENDPOINT=", "DCR_SHUTDOWN_DRAIN=", env}, "-addr", "127.0.0.1:0")
		p.wait(t, 30*time.Second)
		assert.Error(t, p.err, env)
		assert.Contains(t, p.out.String(), want)
		assert.NotContains(t, p.out.String(), "s3cr3t")
	}
}

func TestParseNetworkLimits(t *testing.T) {
	got, err := parseNetworkLimits(" 160.79.104.0/21=600, 2001:db8::/32 = 50 ")
	require.NoError(t, err)
	assert.Equal(t, []networkLimit{
		{netip.MustParsePrefix("160.79.104.0/21"), 600},
		{netip.MustParsePrefix("2001:db8::/32"), 50},
	}, got)
	for _, bad := range []string{
		"160.79.104.0/21",                       // no budget
		"160.79.104.0=600",                      // no prefix length
		"160.79.104.1/21=600",                   // host bits set
		"::ffff:10.0.0.0/104=5",                 // IPv4 written as IPv6
		"160.79.104.0/21=0",                     // not positive
		"160.79.104.0/21=-1",                    //
		"160.79.104.0/21=ten",                   //
		"160.79.104.0/21=600,160.79.104.0/21=6", // twice
		"160.79.104.0/21=600,",                  // an empty entry
		"claude.ai=600",                         // a name
	} {
		_, err := parseNetworkLimits(bad)
		assert.Error(t, err, bad)
	}
}
