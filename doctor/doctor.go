// Package doctor reads an Authlete service's settings and reports each one
// that breaks Dynamic Client Registration or MCP clients, with the fix.
//
// Operators otherwise find these settings through failing clients: a
// registration refused, a 400 where RFC 7592 says 401, a desktop client
// whose loopback port changed failing at /authorize, or a
// registration_client_uri that points away from the server.
package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/dcr-go/dcr/authlete"
)

// Severity says how bad a Finding is.
type Severity string

const (
	// Error: DCR, or a part of it, does not work.
	Error Severity = "error"
	// Warning: DCR works, but some clients will fail or misbehave.
	Warning Severity = "warning"
)

// Finding is one setting that breaks DCR or MCP clients.
type Finding struct {
	Severity Severity
	// Setting is the name of the service's setting in Authlete's API.
	Setting string
	// Problem is what goes wrong for clients.
	Problem string
	// Fix is what to change, in Authlete's console or API.
	Fix string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s: %s Fix: %s", f.Severity, f.Setting, f.Problem, f.Fix)
}

// Check reports the settings of svc that break DCR or MCP clients.
// registrationEndpoint is the public URL of the server's registration
// endpoint (e.g. https://auth.example.com/register); "" skips the check
// of the management endpoint.
func Check(svc *authlete.Service, registrationEndpoint string) []Finding {
	var findings []Finding
	if !svc.DynamicRegistrationSupported {
		findings = append(findings, Finding{Error, "dynamicRegistrationSupported",
			"Dynamic client registration is off: Authlete refuses every registration.",
			"Turn on dynamic client registration in the service's settings (dynamicRegistrationSupported: true)."})
	}
	if !svc.UnauthorizedOnClientConfigSupported {
		findings = append(findings, Finding{Warning, "unauthorizedOnClientConfigSupported",
			"A bad registration access token or an unknown client gets 400, not the 401 that RFC 7592 prescribes; clients do not learn that they must register again.",
			"Turn on unauthorizedOnClientConfigSupported in the service's DCR settings."})
	}
	if !svc.LoopbackRedirectionURIVariable {
		findings = append(findings, Finding{Warning, "loopbackRedirectionUriVariable",
			"A loopback redirect URI must match the registered one port for port: desktop and CLI MCP clients, which listen on a new port each time, fail at the authorization endpoint (RFC 8252 §7.3 lets the port vary).",
			"Turn on loopbackRedirectionUriVariable in the service's settings."})
	}
	if registrationEndpoint != "" {
		want := strings.TrimRight(registrationEndpoint, "/")
		got, setting := svc.RegistrationManagementEndpoint, "registrationManagementEndpoint"
		if got == "" {
			got = svc.RegistrationEndpoint // Authlete's fallback for registration_client_uri
		}
		if strings.TrimRight(got, "/") != want {
			findings = append(findings, Finding{Error, setting,
				fmt.Sprintf("registration_client_uri is built from %q, not from this server's registration endpoint %q: clients send RFC 7592 requests elsewhere.", got, want),
				fmt.Sprintf("Set the service's registration management endpoint to %s.", want)})
		}
	}
	return findings
}

// Diagnose reads the service's settings through c and checks them. A
// service access token without the permission to view the service gives
// an *authlete.Error with StatusCode 403: a reason to warn, not to fail.
func Diagnose(ctx context.Context, c *authlete.Client, registrationEndpoint string) ([]Finding, error) {
	svc, err := c.Service(ctx)
	if err != nil {
		return nil, err
	}
	return Check(svc, registrationEndpoint), nil
}
