package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dcr-go/dcr/authletetest"
)

func TestDoctor(t *testing.T) {
	ctx := context.Background()
	healthy := authletetest.NewServer(t, authletetest.Options{ManagementEndpoint: "https://auth.example.com/register"})
	var out strings.Builder
	assert.NoError(t, run(ctx, []string{"-public-url", "https://auth.example.com/"}, &out, healthy.Config()))
	assert.Equal(t, "ok: no setting of the service breaks DCR or MCP clients\n", out.String())

	warned := authletetest.NewServer(t, authletetest.Options{BadRequestOnClientConfig: true})
	out.Reset()
	assert.NoError(t, run(ctx, nil, &out, warned.Config()), "warnings alone succeed")
	assert.Contains(t, out.String(), "warning: unauthorizedOnClientConfigSupported:")

	broken := authletetest.NewServer(t, authletetest.Options{NoDynamicRegistration: true})
	out.Reset()
	err := run(ctx, []string{"-public-url", "https://auth.example.com"}, &out, broken.Config())
	assert.ErrorContains(t, err, "2 setting(s) break DCR")
	assert.Contains(t, out.String(), "error: dynamicRegistrationSupported:")
	assert.Contains(t, out.String(), "error: registrationManagementEndpoint:")

	broken.Inject(authletetest.Fault{Op: "service/get", Status: 403})
	assert.ErrorContains(t, run(ctx, nil, &out, broken.Config()), "HTTP 403")
}
