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
)

// redirectURIs returns the redirect URIs of m; a member of the wrong type
// is left to Authlete to reject.
func redirectURIs(m dcr.Metadata) []string {
	uris, _ := m.Strings("redirect_uris")
	return uris
}

// RedirectURISchemes accepts only redirect URIs whose scheme is one of
// schemes (compared without case).
func RedirectURISchemes(schemes ...string) dcr.Policy {
	return func(_ *http.Request, m dcr.Metadata) error {
		for _, u := range redirectURIs(m) {
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
		for _, raw := range redirectURIs(m) {
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
		if uris := redirectURIs(m); len(uris) > n {
			return dcr.Reject(dcr.InvalidRedirectURI, fmt.Sprintf("At most %d redirect URIs are allowed.", n))
		}
		return nil
	}
}

// GrantTypes accepts only the given grant types. A client that names none
// asks for authorization_code (RFC 7591 §2), which must then be allowed.
func GrantTypes(allowed ...string) dcr.Policy {
	return func(_ *http.Request, m dcr.Metadata) error {
		grants, ok := m.Strings("grant_types")
		if !ok || len(grants) == 0 {
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
// the request: a *dcr.PolicyError as it is (say, with
// dcr.UnapprovedSoftwareStatement), any other with
// invalid_software_statement. Requests without a statement pass unless
// required is true.
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
		var pe *dcr.PolicyError
		if errors.As(err, &pe) {
			return pe
		}
		return dcr.Reject(dcr.InvalidSoftwareStatement, "The software statement is not valid.")
	}
}

// NativeLoopback sets application_type to "native" when a client omits it
// and all its redirect URIs are loopback (http://localhost,
// http://127.0.0.1, http://[::1], any port) or use a private-use scheme
// (such as com.example.app: or cursor:). Desktop and CLI clients, MCP
// clients among them (Claude Code, Cursor, ...), register such URIs
// without an application_type, and an OpenID Connect server that takes
// the default "web" rejects them.
func NativeLoopback() dcr.Policy {
	return func(_ *http.Request, m dcr.Metadata) error {
		if _, present := m["application_type"]; present {
			return nil
		}
		uris := redirectURIs(m)
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
		switch strings.ToLower(u.Hostname()) {
		case "localhost", "127.0.0.1", "::1":
			return true
		}
		return false
	case "https", "javascript", "data", "file", "vbscript", "about", "blob":
		return false
	}
	return true // a private-use scheme (RFC 8252 §7.1)
}
