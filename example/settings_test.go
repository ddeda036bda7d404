package main

import (
	"context"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
		"DCR_PUBLIC_URL=https://auth.example.com:99999":                          "is not an http or https URL",
		"DCR_PUBLIC_URL=https://auth.example.com:0":                              "is not an http or https URL",
		"DCR_PUBLIC_URL=https://:443":                                            "is not an http or https URL",
		"DCR_REDIS_URL=http://x":                                                 "DCR_REDIS_URL",
		"DCR_REDIS_URL=redis://:s3cr3t@[::1/0":                                   "DCR_REDIS_URL",
		"DCR_REDIS_URL=redis://:s3cr3t%zz@127.0.0.1:6379/0":                      "DCR_REDIS_URL",
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

// env is a getenv of the variables in m only.
func env(m map[string]string) func(string) string {
	return func(name string) string { return m[name] }
}

// TestDefaults: unset, each setting has the default -h states.
func TestDefaults(t *testing.T) {
	s, err := settingsFrom(env(nil))
	require.NoError(t, err)
	assert.Equal(t, settings{RateLimit: 60, ManagementRateLimit: 600, CORSOrigins: []string{"*"}, ShutdownDrain: 10 * time.Second}, s)
}

// TestEachSettingReachesItsField: every setting declared has a case here,
// and its value reaches its field of settings, changing it from the
// default. A setting added to declared without its case fails the test.
func TestEachSettingReachesItsField(t *testing.T) {
	cases := map[string]struct {
		value string
		also  map[string]string // the settings it needs
		field func(settings) any
		want  any
	}{
		"DCR_PUBLIC_URL":        {"https://auth.example.com/", nil, func(s settings) any { return s.PublicURL }, "https://auth.example.com"},
		"DCR_EMBEDDED_EMULATOR": {" TRUE", nil, func(s settings) any { return s.EmbeddedEmulator }, true},
		"DCR_INITIAL_ACCESS_TOKEN": {"s3cr3t-0123456789", nil,
			func(s settings) any { return s.InitialAccessToken != nil }, true},
		"DCR_SOFTWARE_STATEMENT_ISSUERS": {"https://i.example=https://i.example/jwks", nil,
			func(s settings) any { return s.SoftwareStatements != nil }, true},
		"DCR_SOFTWARE_STATEMENT_REQUIRED": {"1", map[string]string{"DCR_SOFTWARE_STATEMENT_ISSUERS": "https://i.example=https://i.example/jwks"},
			func(s settings) any { return s.SoftwareStatementRequired }, true},
		"DCR_IAT_STORE":  {"redis", map[string]string{"DCR_REDIS_URL": "redis://127.0.0.1:6379/0"}, func(s settings) any { return s.IATStore }, "redis"},
		"DCR_RATE_LIMIT": {"7", nil, func(s settings) any { return s.RateLimit }, 7},
		"DCR_RATE_LIMIT_NETWORKS": {"10.0.0.0/8=5", nil, func(s settings) any { return s.NetworkRateLimits },
			[]networkLimit{{Prefix: netip.MustParsePrefix("10.0.0.0/8"), PerMinute: 5}}},
		"DCR_RATE_LIMIT_GLOBAL":     {"9", nil, func(s settings) any { return s.GlobalRateLimit }, 9},
		"DCR_MANAGEMENT_RATE_LIMIT": {"0", nil, func(s settings) any { return s.ManagementRateLimit }, 0},
		"DCR_REDIS_URL":             {"redis://127.0.0.1:6390/2", nil, func(s settings) any { return s.Redis != nil && s.Redis.Addr == "127.0.0.1:6390" && s.Redis.DB == 2 }, true},
		"DCR_TRUSTED_PROXIES": {"10.1.2.3/8, ,192.0.2.1", nil, func(s settings) any { return s.TrustedProxies },
			[]string{"10.0.0.0/8", "192.0.2.1/32"}},
		"DCR_CORS_ORIGINS":               {" https://a.example, ,https://b.example", nil, func(s settings) any { return s.CORSOrigins }, []string{"https://a.example", "https://b.example"}},
		"DCR_DEFAULT_SCOPE":              {" mcp ", nil, func(s settings) any { return s.DefaultScope }, "mcp"},
		"DCR_ALLOWED_SCOPES":             {"mcp  offline_access", nil, func(s settings) any { return s.AllowedScopes }, []string{"mcp", "offline_access"}},
		"DCR_INFO_URIS_ON_REDIRECT_HOST": {"true", nil, func(s settings) any { return s.InfoOnRedirectHost }, true},
		"DCR_METADATA_POLICY": {"testdata/mcp-metadata-policy.json", nil,
			func(s settings) any { return s.MetadataPolicy != nil && s.MetadataPolicyJSON != "" }, true},
		"DCR_METRICS_ADDR":   {" 127.0.0.1:9090 ", nil, func(s settings) any { return s.MetricsAddr }, "127.0.0.1:9090"},
		"DCR_SHUTDOWN_DRAIN": {"1m30s", nil, func(s settings) any { return s.ShutdownDrain }, 90 * time.Second},
	}
	defaults, err := settingsFrom(env(nil))
	require.NoError(t, err)
	for _, d := range declared {
		c, ok := cases[d.Name]
		if !ok {
			t.Errorf("%s has no case in this test", d.Name)
			continue
		}
		delete(cases, d.Name)
		vars := map[string]string{d.Name: c.value}
		maps.Copy(vars, c.also)
		s, err := settingsFrom(env(vars))
		if !assert.NoError(t, err, d.Name) {
			continue
		}
		assert.Equal(t, c.want, c.field(s), d.Name)
		assert.NotEqual(t, c.want, c.field(defaults), "%s: the case does not change the default", d.Name)
	}
	assert.Empty(t, cases, "cases of settings not declared")
}

// docsSettingRE is a row of docs/deployment.md's table of settings that
// describes one DCR_* variable: its name, its default.
var docsSettingRE = regexp.MustCompile("(?m)^\\| `(DCR_[A-Z0-9_]+)` \\| ([^|]*) \\|")

// TestDocsTableMatchesSettings: docs/deployment.md's table has a row for
// each setting declared, in the order of -h, with the default it has:
// `value` for a setting with a Default, no other value but `false` (a
// true-or-false setting) for a setting without.
func TestDocsTableMatchesSettings(t *testing.T) {
	data, err := os.ReadFile("../docs/deployment.md")
	require.NoError(t, err)
	var documented, names []string
	defaults := map[string]string{}
	for _, m := range docsSettingRE.FindAllStringSubmatch(string(data), -1) {
		documented = append(documented, m[1])
		defaults[m[1]] = strings.TrimSpace(m[2])
	}
	for _, d := range declared {
		names = append(names, d.Name)
		cell := defaults[d.Name]
		switch {
		case d.Default != "":
			assert.True(t, strings.HasPrefix(cell, "`"+d.Default+"`"), "%s: the docs' default %q is not `%s`", d.Name, cell, d.Default)
		case cell != "`false`":
			assert.False(t, strings.HasPrefix(cell, "`"), "%s: the docs' default %q is a value; the setting has none", d.Name, cell)
		}
	}
	assert.Equal(t, names, documented, "the DCR_* rows of docs/deployment.md's table")
}

// TestDocsNameOnlySettings: each DCR_* variable that README.md and
// docs/*.md name is a setting declared, or DCR_REQUIRE_REDIS, the tests'
// own (helpers_test.go), so that a renamed or removed setting leaves no
// stale name behind.
func TestDocsNameOnlySettings(t *testing.T) {
	docs, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	known := map[string]bool{"DCR_REQUIRE_REDIS": true}
	for _, d := range declared {
		known[d.Name] = true
	}
	nameRE := regexp.MustCompile(`\bDCR_[A-Z0-9_]*[A-Z0-9]\b`)
	for _, file := range append(docs, "../README.md") {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, name := range nameRE.FindAllString(string(data), -1) {
			assert.True(t, known[name], "%s names %s, which is no setting", file, name)
		}
	}
}

// TestMistypedSettingsRefused is a probe's finding (issue 25): a variable
// whose name is a near miss of a setting (DCR_INITIAL_ACCES_TOKEN,
// DCR_RATE_LIMT, dcr_rate_limit) was ignored without a word, leaving its
// setting at the default: registration open, the limits unchanged. Every
// single deletion, doubling, transposition and change of case of each
// setting's name is now refused, naming the variable and the setting
// meant; the DCR_* names Kubernetes gives a pod for a Service named dcr,
// and those of the tests, are not.
func TestMistypedSettingsRefused(t *testing.T) {
	for _, d := range declared {
		name := d.Name
		var typos []string
		for i := len("DCR_"); i < len(name); i++ {
			typos = append(typos, name[:i]+name[i+1:], name[:i]+name[i:i+1]+name[i:])
			if i+1 < len(name) && name[i] != name[i+1] {
				typos = append(typos, name[:i]+name[i+1:i+2]+name[i:i+1]+name[i+2:])
			}
		}
		typos = append(typos, strings.ToLower(name), "Dcr"+name[3:])
		for _, typo := range typos {
			if slices.ContainsFunc(declared, func(o setting) bool { return o.Name == typo }) {
				continue // DCR_RATE_LIMIT is a deletion of DCR_RATE_LIMIT_GLOBAL's...
			}
			err := checkNames([]string{typo + "=1"})
			if assert.Error(t, err, typo) {
				assert.Contains(t, err.Error(), typo)
				assert.Contains(t, err.Error(), "DCR_")
			}
		}
	}
	err := checkNames([]string{"DCR_RATE_LIMT=5"})
	assert.ErrorContains(t, err, `DCR_RATE_LIMT is not a setting; did you mean DCR_RATE_LIMIT?`)
	for _, env := range [][]string{
		{"DCR_SERVICE_HOST=10.0.0.1", "DCR_SERVICE_PORT=80", "DCR_SERVICE_PORT_HTTP=80", "DCR_PORT=tcp://10.0.0.1:80",
			"DCR_PORT_80_TCP=tcp://10.0.0.1:80", "DCR_PORT_80_TCP_PROTO=tcp", "DCR_PORT_80_TCP_PORT=80", "DCR_PORT_80_TCP_ADDR=10.0.0.1"},
		{"DCR_REQUIRE_REDIS=1", "DCR_REQUIRE_BROWSER=1", "DCR_BENCH_REDIS_DELAY=10ms"},
		{"DCR_RATE_LIMIT=5", "DCR_RATE_LIMIT_GLOBAL=100", "PATH=/usr/bin", "NOEQUALS"},
	} {
		assert.NoError(t, checkNames(env), env)
	}
}

// TestBlackBoxMistypedSettingRefused: the built example stops on a
// mistyped setting instead of serving with open registration.
func TestBlackBoxMistypedSettingRefused(t *testing.T) {
	t.Parallel()
	p := start(t, binary(t, ".", false), []string{"DCR_INITIAL_ACCES_TOKEN=0123456789abcdef0123", "DCR_INITIAL_ACCESS_TOKEN="}, "-addr", "127.0.0.1:0")
	p.wait(t, 30*time.Second)
	assert.Error(t, p.err)
	assert.Contains(t, p.out.String(), "DCR_INITIAL_ACCES_TOKEN is not a setting; did you mean DCR_INITIAL_ACCESS_TOKEN?")
	assert.NotContains(t, p.out.String(), "0123456789abcdef0123")
}

// TestTrustingEveryAddressIsWarnedOf: DCR_TRUSTED_PROXIES=0.0.0.0/0 (or
// ::/0) lets any client set its address, so the example says so at
// start-up; the proxies' own ranges draw no warning.
func TestTrustingEveryAddressIsWarnedOf(t *testing.T) {
	for proxies, warned := range map[string]bool{"0.0.0.0/0": true, "10.0.0.0/8, ::/0": true, "::/1": false, "10.0.0.0/8,192.168.0.0/16": false} {
		_, logs := startExample(t, map[string]string{"DCR_TRUSTED_PROXIES": proxies})
		assert.Equal(t, warned, strings.Contains(logs.String(), "DCR_TRUSTED_PROXIES trusts every address"), proxies)
	}
}
