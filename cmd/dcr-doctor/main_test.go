package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dcr-go/dcr/authletetest"
)

func TestDoctor(t *testing.T) {
	ctx := context.Background()
	cimd := authletetest.CIMDSettings{Supported: true, HTTPAliasProhibited: true, AllowlistEnabled: true,
		Allowlist: []string{"claude.ai"}, MetadataPolicyEnabled: true}
	healthy := authletetest.NewServer(t, authletetest.Options{ManagementEndpoint: "https://auth.example.com/register", CIMD: cimd})
	var out strings.Builder
	t.Setenv("DCR_ALLOWED_SCOPES", "")
	t.Setenv("DCR_DEFAULT_SCOPE", "")
	assert.NoError(t, run(ctx, []string{"-public-url", "https://auth.example.com/"}, &out, healthy.Config()))
	assert.Equal(t, "ok: no setting of the service breaks DCR or MCP clients\n", out.String())
	out.Reset()
	assert.NoError(t, run(ctx, []string{"-public-url", "https://auth.example.com/", "-clamps-scopes"}, &out, healthy.Config()))
	assert.Contains(t, out.String(), "warning: dcrScopeUsedAsRequestable:")
	out.Reset()
	t.Setenv("DCR_ALLOWED_SCOPES", "mcp")
	assert.NoError(t, run(ctx, nil, &out, healthy.Config()))
	assert.Contains(t, out.String(), "warning: dcrScopeUsedAsRequestable:", "DCR_ALLOWED_SCOPES set: the server clamps scopes")

	out.Reset()
	assert.NoError(t, run(ctx, []string{"-h"}, &out, healthy.Config()))
	assert.Contains(t, out.String(), "AUTHLETE_SERVICE_ACCESSTOKEN")
	assert.Error(t, run(ctx, []string{"https://auth.example.com"}, &out, healthy.Config()), "a stray argument")
	assert.Error(t, run(ctx, []string{"-public"}, &out, healthy.Config()), "an unknown flag")

	warned := authletetest.NewServer(t, authletetest.Options{BadRequestOnClientConfig: true})
	out.Reset()
	assert.NoError(t, run(ctx, nil, &out, warned.Config()), "warnings alone succeed")
	assert.Contains(t, out.String(), "warning: unauthorizedOnClientConfigSupported:")

	// One metadata policy for DCR and CIMD clients.
	dir := t.TempDir()
	same, other, invalid := dir+"/same.json", dir+"/other.json", dir+"/invalid.json"
	os.WriteFile(same, []byte(`{"scope":{"subset_of":["mcp"]}}`), 0o644)
	os.WriteFile(other, []byte(`{"scope":{"subset_of":["mcp","admin"]}}`), 0o644)
	os.WriteFile(invalid, []byte(`{"scope":{"subset_of":["mcp"],"superset_of":["admin"]}}`), 0o644)
	cimd.MetadataPolicy = `{"scope":{"subset_of":["mcp"]}}`
	withPolicy := authletetest.NewServer(t, authletetest.Options{ManagementEndpoint: "https://auth.example.com/register", CIMD: cimd})
	out.Reset()
	assert.NoError(t, run(ctx, []string{"-metadata-policy", same}, &out, withPolicy.Config()))
	assert.Contains(t, out.String(), "ok: the service's CIMD metadata policy is "+same+"'s")
	out.Reset()
	assert.NoError(t, run(ctx, []string{"-metadata-policy", other}, &out, withPolicy.Config()), "a warning")
	assert.Contains(t, out.String(), `warning: cimdMetadataPolicy: The service's CIMD metadata policy is not the server's (here: the server's; there: the service's): scope subset_of: ["admin","mcp"] here, ["mcp"] there.`)
	assert.ErrorContains(t, run(ctx, []string{"-metadata-policy", invalid}, &out, withPolicy.Config()), `member "scope", operator "superset_of"`)

	broken := authletetest.NewServer(t, authletetest.Options{NoDynamicRegistration: true})
	out.Reset()
	err := run(ctx, []string{"-public-url", "https://auth.example.com"}, &out, broken.Config())
	assert.ErrorContains(t, err, "2 setting(s) break DCR")
	assert.Contains(t, out.String(), "error: dynamicRegistrationSupported:")
	assert.Contains(t, out.String(), "error: registrationManagementEndpoint:")

	broken.Inject(authletetest.Fault{Op: "service/get", Status: 403})
	assert.ErrorContains(t, run(ctx, nil, &out, broken.Config()), "HTTP 403")
}
