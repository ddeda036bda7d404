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
	"github.com/dcr-go/dcr/policy"
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

// Deployment is what the doctor knows of the server in front of the
// service. The zero value checks the service alone.
type Deployment struct {
	// RegistrationEndpoint is the public URL of the server's registration
	// endpoint (e.g. https://auth.example.com/register); "" skips the
	// check of the management endpoint.
	RegistrationEndpoint string
	// ClampsScopes says that the server edits the registered scope
	// (policy.AllowedScopes, policy.DefaultScope, a metadata policy on
	// scope).
	ClampsScopes bool
	// MetadataPolicy, if not nil, is the metadata policy the server
	// applies to registrations: with CIMD on, the service's
	// cimdMetadataPolicy must be the same, so that one policy governs both
	// kinds of client.
	MetadataPolicy *policy.MetadataPolicy
}

// Check reports the settings of svc that break DCR or MCP clients of the
// deployment d.
func Check(svc *authlete.Service, d Deployment) []Finding {
	var findings []Finding
	add := func(sev Severity, setting, problem, fix string) {
		findings = append(findings, Finding{sev, setting, problem, fix})
	}
	if !svc.DynamicRegistrationSupported {
		add(Error, "dynamicRegistrationSupported",
			"Dynamic client registration is off: Authlete refuses every registration.",
			"Turn on dynamic client registration in the service's settings (dynamicRegistrationSupported: true).")
	}
	if !svc.UnauthorizedOnClientConfigSupported {
		add(Warning, "unauthorizedOnClientConfigSupported",
			"A bad registration access token or an unknown client gets 400, not the 401 that RFC 7592 prescribes; clients do not learn that they must register again.",
			"Turn on unauthorizedOnClientConfigSupported in the service's DCR settings.")
	}
	if !svc.LoopbackRedirectionURIVariable {
		add(Warning, "loopbackRedirectionUriVariable",
			"A loopback redirect URI must match the registered one port for port: desktop and CLI MCP clients, which listen on a new port each time, fail at the authorization endpoint (RFC 8252 §7.3 lets the port vary).",
			"Turn on loopbackRedirectionUriVariable in the service's settings.")
	}
	if svc.DCRDuplicateSoftwareIDBlocked {
		add(Error, "dcrDuplicateSoftwareIdBlocked",
			"A registration whose software_id was registered before is refused: MCP clients such as mcp-remote send the same software_id from every install, so every user after the first cannot register.",
			"Turn off dcrDuplicateSoftwareIdBlocked in the service's DCR settings.")
	}
	if d.ClampsScopes && !svc.DCRScopeUsedAsRequestable {
		add(Warning, "dcrScopeUsedAsRequestable",
			"The server edits the scope a client registers, but Authlete does not use the registered scope as the client's requestable scopes: the clamp shows in the registration, yet does not bind at the authorization endpoint.",
			"Turn on dcrScopeUsedAsRequestable in the service's DCR settings.")
	}
	findings = append(findings, CheckCIMD(svc)...)
	if d.MetadataPolicy != nil && svc.ClientIDMetadataDocumentSupported {
		findings = append(findings, checkCIMDPolicy(svc, d.MetadataPolicy)...)
	}
	if d.RegistrationEndpoint != "" {
		want := strings.TrimRight(d.RegistrationEndpoint, "/")
		got, setting := svc.RegistrationManagementEndpoint, "registrationManagementEndpoint"
		if got == "" {
			got = svc.RegistrationEndpoint // Authlete's fallback for registration_client_uri
		}
		if strings.TrimRight(got, "/") != want {
			add(Error, setting,
				fmt.Sprintf("registration_client_uri is built from %q, not from this server's registration endpoint %q: clients send RFC 7592 requests elsewhere.", got, want),
				fmt.Sprintf("Set the service's registration management endpoint to %s.", want))
		}
	}
	return findings
}

// CheckCIMD reports the Client ID Metadata Document settings of svc (a
// part of Check): the MCP specification prefers CIMD to DCR, and a CIMD
// client's metadata is fetched from a URL the client names.
func CheckCIMD(svc *authlete.Service) []Finding {
	if !svc.ClientIDMetadataDocumentSupported {
		return []Finding{{Warning, "clientIdMetadataDocumentSupported",
			"Client ID Metadata Documents are off: MCP clients that identify themselves by the URL of their metadata (which the MCP specification prefers to DCR) cannot connect without registering.",
			"Turn on clientIdMetadataDocumentSupported, with httpAliasProhibited on, cimdHttpPermitted and cimdQueryPermitted off."}}
	}
	var findings []Finding
	if !svc.HTTPAliasProhibited {
		findings = append(findings, Finding{Warning, "httpAliasProhibited",
			"With CIMD on, a client ID alias may start with https://: a client registered under an alias that is another client's metadata URL passes for that client.",
			"Turn on httpAliasProhibited."})
	}
	if svc.CIMDHTTPPermitted {
		findings = append(findings, Finding{Warning, "cimdHttpPermitted",
			"Metadata documents may be fetched over plain http: anyone on the path can change a client's redirect URIs. Acceptable in development only.",
			"Turn off cimdHttpPermitted in production."})
	}
	if svc.CIMDQueryPermitted {
		findings = append(findings, Finding{Warning, "cimdQueryPermitted",
			"Metadata document URLs may have a query: one host can pass for any number of clients. Acceptable in development only.",
			"Turn off cimdQueryPermitted in production."})
	}
	switch {
	case svc.CIMDAllowlistEnabled && len(svc.CIMDAllowlist) == 0:
		findings = append(findings, Finding{Error, "cimdAllowlist",
			"The CIMD allowlist is on and empty: no metadata document is fetched, so no CIMD client can connect.",
			"List the hosts of the metadata documents you accept in cimdAllowlist (e.g. claude.ai), or turn off cimdAllowlistEnabled."})
	case !svc.CIMDAllowlistEnabled:
		findings = append(findings, Finding{Warning, "cimdAllowlistEnabled",
			"Metadata documents are fetched from any host: any client can connect by publishing one, under the name it chooses.",
			"Turn on cimdAllowlistEnabled with the hosts you accept in cimdAllowlist, or govern CIMD clients with cimdMetadataPolicy."})
	}
	if !svc.CIMDMetadataPolicyEnabled {
		findings = append(findings, Finding{Warning, "cimdMetadataPolicyEnabled",
			"No metadata policy governs CIMD clients: what the server's policies refuse at registration, a CIMD client gets.",
			"Turn on cimdMetadataPolicyEnabled with a cimdMetadataPolicy that matches the server's registration policies."})
	}
	return findings
}

// checkCIMDPolicy compares the service's CIMD metadata policy with the
// server's.
func checkCIMDPolicy(svc *authlete.Service, server *policy.MetadataPolicy) []Finding {
	const fix = "Set cimdMetadataPolicy to the server's metadata policy file (and turn on cimdMetadataPolicyEnabled)."
	if strings.TrimSpace(svc.CIMDMetadataPolicy) == "" {
		return []Finding{{Warning, "cimdMetadataPolicy",
			"The service has no CIMD metadata policy: CIMD clients are not held to the policy that registrations are.", fix}}
	}
	theirs, err := policy.ParseMetadataPolicy([]byte(svc.CIMDMetadataPolicy))
	if err != nil {
		return []Finding{{Warning, "cimdMetadataPolicy", "The service's CIMD metadata policy cannot be read: " + err.Error() + ".", fix}}
	}
	if diff := server.Diff(theirs); len(diff) > 0 {
		return []Finding{{Warning, "cimdMetadataPolicy",
			"The service's CIMD metadata policy is not the server's (here: the server's; there: the service's): " + strings.Join(diff, "; ") + ".", fix}}
	}
	return nil
}

// Diagnose reads the service's settings through c and checks them. A
// service access token without the permission to view the service gives
// an *authlete.Error with StatusCode 403: a reason to warn, not to fail.
func Diagnose(ctx context.Context, c *authlete.Client, d Deployment) ([]Finding, error) {
	svc, err := c.Admin().Service(ctx)
	if err != nil {
		return nil, err
	}
	return Check(svc, d), nil
}
