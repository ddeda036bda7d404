package doctor_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/doctor"
	"github.com/dcr-go/dcr/policy"
)

func settings(findings []doctor.Finding) map[string]doctor.Severity {
	m := map[string]doctor.Severity{}
	for _, f := range findings {
		m[f.Setting] = f.Severity
		assertComplete(f)
	}
	return m
}

func assertComplete(f doctor.Finding) {
	if f.Problem == "" || f.Fix == "" {
		panic("a finding without problem or fix: " + f.Setting)
	}
}

// Each setting that breaks DCR or MCP clients is reported, read from the
// emulator over real HTTP (API v3 and v2).
func TestDiagnose(t *testing.T) {
	const endpoint = "https://auth.example.com/register"
	cimd := authletetest.CIMDSettings{Supported: true, HTTPAliasProhibited: true, AllowlistEnabled: true,
		Allowlist: []string{"claude.ai"}, MetadataPolicyEnabled: true, MetadataPolicy: `{}`}
	with := func(o authletetest.Options) authletetest.Options {
		if o.ManagementEndpoint == "" {
			o.ManagementEndpoint = endpoint
		}
		if !o.CIMD.Supported && o.CIMD.Allowlist == nil {
			o.CIMD = cimd
		}
		return o
	}
	changed := func(f func(*authletetest.CIMDSettings)) authletetest.CIMDSettings {
		c := cimd
		f(&c)
		return c
	}
	cases := []struct {
		name   string
		opts   authletetest.Options
		clamps bool
		want   map[string]doctor.Severity
	}{
		{"healthy", with(authletetest.Options{}), false, map[string]doctor.Severity{}},
		{"trailing slash is the same", with(authletetest.Options{ManagementEndpoint: endpoint + "/"}), false, map[string]doctor.Severity{}},
		{"registration off", with(authletetest.Options{NoDynamicRegistration: true}), false,
			map[string]doctor.Severity{"dynamicRegistrationSupported": doctor.Error}},
		{"400 on client config", with(authletetest.Options{BadRequestOnClientConfig: true}), false,
			map[string]doctor.Severity{"unauthorizedOnClientConfigSupported": doctor.Warning}},
		{"fixed loopback port", with(authletetest.Options{FixedLoopbackPort: true}), false,
			map[string]doctor.Severity{"loopbackRedirectionUriVariable": doctor.Warning}},
		{"management endpoint elsewhere", with(authletetest.Options{ManagementEndpoint: "https://old.example.com/dcr"}), false,
			map[string]doctor.Severity{"registrationManagementEndpoint": doctor.Error}},
		{"duplicate software_id blocked", with(authletetest.Options{DuplicateSoftwareIDBlocked: true}), false,
			map[string]doctor.Severity{"dcrDuplicateSoftwareIdBlocked": doctor.Error}},
		{"scope clamped, not requestable", with(authletetest.Options{}), true,
			map[string]doctor.Severity{"dcrScopeUsedAsRequestable": doctor.Warning}},
		{"scope clamped and requestable", with(authletetest.Options{DCRScopeUsedAsRequestable: true}), true, map[string]doctor.Severity{}},
		{"scope not clamped", with(authletetest.Options{}), false, map[string]doctor.Severity{}},
		{"CIMD off", with(authletetest.Options{CIMD: authletetest.CIMDSettings{Allowlist: []string{}}}), false,
			map[string]doctor.Severity{"clientIdMetadataDocumentSupported": doctor.Warning}},
		{"CIMD with http aliases", with(authletetest.Options{CIMD: changed(func(c *authletetest.CIMDSettings) { c.HTTPAliasProhibited = false })}), false,
			map[string]doctor.Severity{"httpAliasProhibited": doctor.Warning}},
		{"CIMD over http and with queries", with(authletetest.Options{CIMD: changed(func(c *authletetest.CIMDSettings) { c.HTTPPermitted, c.QueryPermitted = true, true })}), false,
			map[string]doctor.Severity{"cimdHttpPermitted": doctor.Warning, "cimdQueryPermitted": doctor.Warning}},
		{"CIMD from any host", with(authletetest.Options{CIMD: changed(func(c *authletetest.CIMDSettings) { c.AllowlistEnabled = false })}), false,
			map[string]doctor.Severity{"cimdAllowlistEnabled": doctor.Warning}},
		{"CIMD allowlist empty", with(authletetest.Options{CIMD: changed(func(c *authletetest.CIMDSettings) { c.Allowlist = nil })}), false,
			map[string]doctor.Severity{"cimdAllowlist": doctor.Error}},
		{"CIMD without a metadata policy", with(authletetest.Options{CIMD: changed(func(c *authletetest.CIMDSettings) { c.MetadataPolicyEnabled = false })}), false,
			map[string]doctor.Severity{"cimdMetadataPolicyEnabled": doctor.Warning}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := authletetest.NewServer(t, tc.opts)
			for _, cfg := range []authlete.Config{srv.Config(), srv.ConfigV2()} {
				c, err := authlete.New(cfg)
				require.NoError(t, err)
				findings, err := doctor.Diagnose(context.Background(), c, doctor.Deployment{RegistrationEndpoint: endpoint, ClampsScopes: tc.clamps})
				require.NoError(t, err)
				assert.Equal(t, tc.want, settings(findings))
			}
		})
	}
}

func TestCheck(t *testing.T) {
	healthy := authlete.Service{DynamicRegistrationSupported: true, UnauthorizedOnClientConfigSupported: true,
		LoopbackRedirectionURIVariable: true, RegistrationEndpoint: "https://a.example/register",
		ClientIDMetadataDocumentSupported: true, HTTPAliasProhibited: true, CIMDAllowlistEnabled: true, CIMDAllowlist: []string{"claude.ai"},
		CIMDMetadataPolicyEnabled: true}
	assert.Empty(t, doctor.Check(&healthy, doctor.Deployment{RegistrationEndpoint: "https://a.example/register"}), "the registration endpoint is the fallback")
	assert.Empty(t, doctor.Check(&healthy, doctor.Deployment{}), "no endpoint: not checked")
	findings := doctor.Check(&healthy, doctor.Deployment{RegistrationEndpoint: "https://b.example/register"})
	require.Len(t, findings, 1)
	assert.Equal(t, `error: registrationManagementEndpoint: registration_client_uri is built from "https://a.example/register", not from this server's registration endpoint "https://b.example/register": clients send RFC 7592 requests elsewhere. Fix: Set the service's registration management endpoint to https://b.example/register.`, findings[0].String())

	all := doctor.Check(&authlete.Service{DCRDuplicateSoftwareIDBlocked: true}, doctor.Deployment{RegistrationEndpoint: "https://b.example/register", ClampsScopes: true})
	assert.Len(t, all, 7)
}

func TestDiagnoseWithoutPermission(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	srv.Inject(authletetest.Fault{Op: "service/get", Status: 403})
	_, err := doctor.Diagnose(context.Background(), srv.Client(t), doctor.Deployment{})
	var ae *authlete.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 403, ae.StatusCode)
}

// TestCIMDMetadataPolicy: with CIMD on, the service's cimdMetadataPolicy
// is compared with the server's metadata policy, as sets.
func TestCIMDMetadataPolicy(t *testing.T) {
	server, err := policy.ParseMetadataPolicy([]byte(`{"scope":{"subset_of":["mcp","offline_access"]},"grant_types":{"essential":true}}`))
	require.NoError(t, err)
	svc := authlete.Service{DynamicRegistrationSupported: true, UnauthorizedOnClientConfigSupported: true,
		LoopbackRedirectionURIVariable: true, ClientIDMetadataDocumentSupported: true, HTTPAliasProhibited: true,
		CIMDAllowlistEnabled: true, CIMDAllowlist: []string{"claude.ai"}, CIMDMetadataPolicyEnabled: true}
	for _, tc := range []struct {
		service string
		want    string
	}{
		{`{"openid_relying_party":{"grant_types":{"essential":true},"scope":{"subset_of":"offline_access mcp"}}}`, ""},
		{`{"scope":{"subset_of":["mcp"]}}`, `grant_types essential: true here, none there; scope subset_of: ["mcp","offline_access"] here, ["mcp"] there`},
		{``, "The service has no CIMD metadata policy"},
		{`{"scope":{"nope":1}}`, "cannot be read"},
	} {
		s := svc
		s.CIMDMetadataPolicy = tc.service
		findings := doctor.Check(&s, doctor.Deployment{MetadataPolicy: server})
		if tc.want == "" {
			assert.Empty(t, findings, tc.service)
			continue
		}
		require.Len(t, findings, 1, tc.service)
		assert.Equal(t, "cimdMetadataPolicy", findings[0].Setting)
		assert.Contains(t, findings[0].Problem, tc.want)
	}
	s := svc
	s.ClientIDMetadataDocumentSupported = false
	for _, f := range doctor.Check(&s, doctor.Deployment{MetadataPolicy: server}) {
		assert.NotEqual(t, "cimdMetadataPolicy", f.Setting, "CIMD off: nothing to compare")
	}
}
