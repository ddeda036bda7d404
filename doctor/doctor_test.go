package doctor_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/doctor"
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
	cases := []struct {
		name string
		opts authletetest.Options
		want map[string]doctor.Severity
	}{
		{"healthy", authletetest.Options{ManagementEndpoint: endpoint}, map[string]doctor.Severity{}},
		{"trailing slash is the same", authletetest.Options{ManagementEndpoint: endpoint + "/"}, map[string]doctor.Severity{}},
		{"registration off", authletetest.Options{ManagementEndpoint: endpoint, NoDynamicRegistration: true},
			map[string]doctor.Severity{"dynamicRegistrationSupported": doctor.Error}},
		{"400 on client config", authletetest.Options{ManagementEndpoint: endpoint, BadRequestOnClientConfig: true},
			map[string]doctor.Severity{"unauthorizedOnClientConfigSupported": doctor.Warning}},
		{"fixed loopback port", authletetest.Options{ManagementEndpoint: endpoint, FixedLoopbackPort: true},
			map[string]doctor.Severity{"loopbackRedirectionUriVariable": doctor.Warning}},
		{"management endpoint elsewhere", authletetest.Options{ManagementEndpoint: "https://old.example.com/dcr"},
			map[string]doctor.Severity{"registrationManagementEndpoint": doctor.Error}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := authletetest.NewServer(t, tc.opts)
			for _, cfg := range []authlete.Config{srv.Config(), srv.ConfigV2()} {
				c, err := authlete.New(cfg)
				require.NoError(t, err)
				findings, err := doctor.Diagnose(context.Background(), c, endpoint)
				require.NoError(t, err)
				assert.Equal(t, tc.want, settings(findings))
			}
		})
	}
}

func TestCheck(t *testing.T) {
	healthy := authlete.Service{DynamicRegistrationSupported: true, UnauthorizedOnClientConfigSupported: true,
		LoopbackRedirectionURIVariable: true, RegistrationEndpoint: "https://a.example/register"}
	assert.Empty(t, doctor.Check(&healthy, "https://a.example/register"), "the registration endpoint is the fallback")
	assert.Empty(t, doctor.Check(&healthy, ""), "no endpoint: not checked")
	findings := doctor.Check(&healthy, "https://b.example/register")
	require.Len(t, findings, 1)
	assert.Equal(t, `error: registrationManagementEndpoint: registration_client_uri is built from "https://a.example/register", not from this server's registration endpoint "https://b.example/register": clients send RFC 7592 requests elsewhere. Fix: Set the service's registration management endpoint to https://b.example/register.`, findings[0].String())

	all := doctor.Check(&authlete.Service{}, "https://b.example/register")
	assert.Len(t, all, 4)
}

func TestDiagnoseWithoutPermission(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	srv.Inject(authletetest.Fault{Op: "service/get", Status: 403})
	_, err := doctor.Diagnose(context.Background(), srv.Client(t), "")
	var ae *authlete.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 403, ae.StatusCode)
}
