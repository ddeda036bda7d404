package doctor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/doctor"
)

func ExampleCheck() {
	svc := &authlete.Service{
		DynamicRegistrationSupported:   true,
		RegistrationManagementEndpoint: "https://auth.example.com/register",
		LoopbackRedirectionURIVariable: true,
		DCRDuplicateSoftwareIDBlocked:  true,
	}
	for _, f := range doctor.Check(svc, doctor.Deployment{RegistrationEndpoint: "https://auth.example.com/register", ClampsScopes: true}) {
		fmt.Println(f.Severity, f.Setting)
	}
	// Output:
	// warning unauthorizedOnClientConfigSupported
	// error dcrDuplicateSoftwareIdBlocked
	// warning dcrScopeUsedAsRequestable
	// warning clientIdMetadataDocumentSupported
}

// An application's start-up check: wrong credentials stop it, and each
// setting that breaks DCR clients is logged.
func ExampleReport() {
	emulator := httptest.NewServer(authletetest.New(authletetest.Options{ManagementEndpoint: "https://auth.example.com/clients"}))
	defer emulator.Close()
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == "problem" || a.Key == "fix" {
			return slog.Attr{}
		}
		return a
	}}))
	for _, token := range []string{"not-the-token", authletetest.DefaultAccessToken} {
		client, _ := authlete.New(authlete.Config{BaseURL: emulator.URL, ServiceAPIKey: authletetest.DefaultServiceID, ServiceAccessToken: token})
		_, err := doctor.Report(context.Background(), client, doctor.Deployment{RegistrationEndpoint: "https://auth.example.com/register"}, logger)
		var ae *authlete.Error
		fmt.Println("refused:", errors.As(err, &ae) && ae.Refused())
	}
	// Output:
	// refused: true
	// level=WARN msg="dcr: Authlete service setting breaks DCR clients" setting=clientIdMetadataDocumentSupported
	// level=ERROR msg="dcr: Authlete service setting breaks DCR clients" setting=registrationManagementEndpoint
	// refused: false
}
