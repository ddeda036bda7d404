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
	}
	for _, f := range doctor.Check(svc, "https://auth.example.com/register") {
		fmt.Println(f.Severity, f.Setting)
	}
	// Output: warning unauthorizedOnClientConfigSupported
}
