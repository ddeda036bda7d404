package doctor_test

import (
	"fmt"

	"github.com/dcr-go/dcr/authlete"
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
