// Package policy holds ready-made dcr.Policy values: which redirect URIs
// and grant types a deployment accepts, how many redirect URIs, software
// statements, and MCP-ready defaults for desktop clients.
//
//	dcr.New(client, dcr.Options{Policies: []dcr.Policy{
//		policy.RedirectURISchemes("https", "http"),
//		policy.RedirectURIHosts("localhost", "127.0.0.1", "[::1]", "*.example.com"),
//		policy.MaxRedirectURIs(5),
//		policy.NativeLoopback(),
//	}})
package policy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/internal/loopback"
)

// redirectURIs returns the redirect URIs of m. A member that is present
// but not an array of strings (RFC 7591 §2) is rejected: a policy that
// skipped it would let the request through unchecked, and Authlete may
// read it in its own way. A null member counts as absent.
func redirectURIs(m dcr.Metadata) ([]string, error) {
	return stringArray(m, "redirect_uris")
}

// stringArray returns the member name of m, which must be an array of
// strings, absent or null.
func stringArray(m dcr.Metadata, name string) ([]string, error) {
	v, present := m[name]
	if !present || v == nil {
		return nil, nil
	}
	values, ok := m.Strings(name)
	if !ok {
		return nil, dcr.Reject(dcr.InvalidClientMetadata, fmt.Sprintf("The value of %q must be an array of strings.", name))
	}
	return values, nil
}

// RedirectURISchemes accepts only redirect URIs whose scheme is one of
// schemes (compared without case).
func RedirectURISchemes(schemes ...string) dcr.Policy {
	return func(_ *http.Request, m dcr.Metadata) error {
		uris, err := redirectURIs(m)
		if err != nil {
			return err
		}
		for _, u := range uris {
			scheme, _, ok := strings.Cut(u, ":")
			if !ok || !slices.ContainsFunc(schemes, func(s string) bool { return strings.EqualFold(s, scheme) }) {
				return dcr.Reject(dcr.InvalidRedirectURI, fmt.Sprintf("The scheme of the redirect URI %q is not allowed.", u))
			}
		}
		return nil
	}
}

// RedirectURIHosts accepts only http and https redirect URIs whose host is
// one of hosts: a name or an IP address ("[::1]" or "::1" for IPv6), or
// "*.example.com" for any subdomain of example.com. Redirect URIs of other
// schemes, which have no host to check, are left to RedirectURISchemes.
func RedirectURIHosts(hosts ...string) dcr.Policy {
	allowed := make([]string, len(hosts))
	for i, h := range hosts {
		allowed[i] = strings.ToLower(strings.Trim(h, "[]"))
	}
	return func(_ *http.Request, m dcr.Metadata) error {
		uris, err := redirectURIs(m)
		if err != nil {
			return err
		}
		for _, raw := range uris {
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				continue
			}
			host := strings.ToLower(u.Hostname())
			if !slices.ContainsFunc(allowed, func(a string) bool { return hostMatches(a, host) }) {
				return dcr.Reject(dcr.InvalidRedirectURI, fmt.Sprintf("The host of the redirect URI %q is not allowed.", raw))
			}
		}
		return nil
	}
}

func hostMatches(pattern, host string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+suffix)
	}
	return host == pattern
}

// MaxRedirectURIs accepts at most n redirect URIs.
func MaxRedirectURIs(n int) dcr.Policy {
	return func(_ *http.Request, m dcr.Metadata) error {
		uris, err := redirectURIs(m)
		if err != nil {
			return err
		}
		if len(uris) > n {
			return dcr.Reject(dcr.InvalidRedirectURI, fmt.Sprintf("At most %d redirect URIs are allowed.", n))
		}
		return nil
	}
}

// GrantTypes accepts only the given grant types. A client that names none
// (no member, null or an empty array) asks for authorization_code
// (RFC 7591 §2), which must then be allowed. A member that is not an array
// of strings is rejected.
func GrantTypes(allowed ...string) dcr.Policy {
	return func(_ *http.Request, m dcr.Metadata) error {
		grants, err := stringArray(m, "grant_types")
		if err != nil {
			return err
		}
		if len(grants) == 0 {
			grants = []string{"authorization_code"}
		}
		for _, g := range grants {
			if !slices.Contains(allowed, g) {
				return dcr.Reject(dcr.InvalidClientMetadata, fmt.Sprintf("The grant type %q is not allowed.", g))
			}
		}
		return nil
	}
}

// SoftwareStatement hands the software_statement of a request, when it
// has one, to verify, which checks the JWT (its signature, issuer and
// claims are the application's business) and may copy its claims into m:
// RFC 7591 §2.3 says they take precedence. An error from verify rejects
// the request: a *dcr.Error as it is (say, with
// dcr.UnapprovedSoftwareStatement), any other with
// invalid_software_statement, but a *dcr.UnavailableError (the issuer's
// keys cannot be had for now), which fails it with 503 and Retry-After.
// Requests without a statement pass unless required is true.
func SoftwareStatement(required bool, verify func(ctx context.Context, statement string, m dcr.Metadata) error) dcr.Policy {
	return func(r *http.Request, m dcr.Metadata) error {
		statement, ok := m.String("software_statement")
		if !ok || statement == "" {
			if _, present := m["software_statement"]; present || required {
				return dcr.Reject(dcr.InvalidSoftwareStatement, "A software statement is required.")
			}
			return nil
		}
		err := verify(r.Context(), statement, m)
		if err == nil {
			return nil
		}
		var pe *dcr.Error
		var ue *dcr.UnavailableError
		switch {
		case errors.As(err, &pe):
			return pe
		case errors.As(err, &ue):
			return ue
		}
		return dcr.Reject(dcr.InvalidSoftwareStatement, "The software statement is not valid.")
	}
}

// NativeLoopback sets application_type to "native" when a client omits it
// and all its redirect URIs are loopback (http://localhost,
// http://127.0.0.1, http://[::1], any port) or use a private-use scheme,
// which RFC 8252 §7.1 makes a reverse domain name (com.example.app:/cb).
// Desktop and CLI clients, MCP clients among them (Claude Code, ...),
// register such URIs without an application_type, and an OpenID Connect
// server that takes the default "web" rejects them. Other schemes
// (ftp:, wss:, mailto:, urn:, or cursor: which has no dot) do not make a
// client native. A redirect_uris member that is not an array of strings
// is rejected.
func NativeLoopback() dcr.Policy {
	return func(_ *http.Request, m dcr.Metadata) error {
		uris, err := redirectURIs(m)
		if err != nil {
			return err
		}
		if _, present := m["application_type"]; present {
			return nil
		}
		if len(uris) == 0 {
			return nil
		}
		for _, raw := range uris {
			if !isNativeRedirectURI(raw) {
				return nil
			}
		}
		m["application_type"] = "native"
		return nil
	}
}

func isNativeRedirectURI(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return loopback.RedirectHost(u.Hostname())
	case "https":
		return false
	}
	// RFC 8252 §7.1: a private-use scheme is a reverse domain name.
	return strings.Contains(u.Scheme, ".")
}
