package doctor_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/doctor"
)

// TestReport: wrong credentials are an error that says they were
// refused; a service that may not be read is a warning; each finding is
// a log line at its severity.
func TestReport(t *testing.T) {
	ctx := context.Background()
	emu := authletetest.New(authletetest.Options{NoDynamicRegistration: true})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	client := func(token string) *authlete.Client {
		c, err := authlete.New(authlete.Config{BaseURL: srv.URL, ServiceAPIKey: authletetest.DefaultServiceID, ServiceAccessToken: token})
		require.NoError(t, err)
		return c
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	_, err := doctor.Report(ctx, client("wrong-token"), doctor.Deployment{}, logger)
	var ae *authlete.Error
	require.ErrorAs(t, err, &ae)
	assert.True(t, ae.Refused(), "%v", err)
	assert.Empty(t, logs.String())

	findings, err := doctor.Report(ctx, client(authletetest.DefaultAccessToken), doctor.Deployment{RegistrationEndpoint: "https://elsewhere.example/register"}, logger)
	require.NoError(t, err)
	require.NotEmpty(t, findings)
	assert.Contains(t, logs.String(), "level=ERROR msg=\"dcr: Authlete service setting breaks DCR clients\" setting=dynamicRegistrationSupported")
	assert.Contains(t, logs.String(), "setting=registrationManagementEndpoint")

	logs.Reset()
	emu.Inject(authletetest.Fault{Op: "service/get", Status: 403})
	findings, err = doctor.Report(ctx, client(authletetest.DefaultAccessToken), doctor.Deployment{}, logger)
	require.NoError(t, err)
	assert.Empty(t, findings)
	assert.Contains(t, logs.String(), "level=WARN msg=\"dcr: the service access token may not read the service's settings")
}
