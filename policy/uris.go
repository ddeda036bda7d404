package policy

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/dcr-go/dcr"
)

// The client metadata members that hold URIs (RFC 7591 §2, OpenID Connect
// Dynamic Client Registration §2, OpenID Connect Front- and Back-Channel
// Logout, CIBA), and what SafeURIs asks of each.
var (
	// uriMembers hold one URI each; a language-tagged variant
	// ("logo_uri#ja") is checked as its member.
	uriMembers = []string{"client_uri", "logo_uri", "policy_uri", "tos_uri", "jwks_uri", "sector_identifier_uri",
		"initiate_login_uri", "frontchannel_logout_uri", "backchannel_logout_uri", "backchannel_client_notification_endpoint"}
	// uriArrayMembers hold arrays of URIs.
	uriArrayMembers = []string{"redirect_uris", "post_logout_redirect_uris", "request_uris"}
	// fetchedMembers are fetched by the authorization server itself: an
	// attacker's URI there is a request from inside your network.
	fetchedMembers = []string{"jwks_uri", "sector_identifier_uri", "request_uris"}
	// infoMembers are shown to users.
	infoMembers = []string{"logo_uri", "client_uri", "policy_uri", "tos_uri"}
	// scriptSchemes run code or read local files where a URI is followed
	// or shown.
	scriptSchemes = []string{"javascript", "data", "vbscript", "file"}
)

// dropTabsAndNewlines removes what browsers ignore inside a scheme.
var dropTabsAndNewlines = strings.NewReplacer("\t", "", "\n", "", "\r", "")

// SafeURIOptions tune SafeURIs. The zero value applies the rules that
// every deployment needs.
type SafeURIOptions struct {
	// InfoOnRedirectHost requires logo_uri, client_uri, policy_uri and
	// tos_uri to be on the host of one of the client's redirect URIs (RFC
	// 7591 §5 suggests it against phishing). False means any host.
	InfoOnRedirectHost bool
}

// SafeURIs refuses client metadata whose URIs would harm users or the
// server, with invalid_redirect_uri for redirect_uris and
// invalid_client_metadata naming the member for the others:
//
//   - no member that holds a URI (redirect_uris, jwks_uri, logo_uri,
//     client_uri, policy_uri, tos_uri, initiate_login_uri,
//     sector_identifier_uri, request_uris, post_logout_redirect_uris,
//     the logout and CIBA notification endpoints, and their
//     language-tagged variants) may use the javascript:, data:, vbscript:
//     or file: scheme, in any case, after leading blanks;
//   - the URIs the authorization server fetches (jwks_uri,
//     sector_identifier_uri, request_uris) must be https and must not name
//     localhost, nor an address literal that is loopback, private
//     (RFC 1918, RFC 4193), shared (RFC 6598), link-local, multicast or
//     unspecified, in any notation a resolver accepts (127.1, 0x7f.0.0.1,
//     2130706433, [::ffff:127.0.0.1]): blind SSRF through jwks_uri, as in
//     Keycloak's CVE-2026-1180. A DNS name that resolves to such an
//     address is the fetcher's to refuse;
//   - the URIs shown to users (logo_uri, client_uri, policy_uri, tos_uri)
//     must be https, or http on loopback; with InfoOnRedirectHost, on the
//     host of a redirect URI.
//
// A member of the wrong type is refused; null counts as absent.
func SafeURIs(opts SafeURIOptions) dcr.Policy {
	return func(_ *http.Request, m dcr.Metadata) error {
		redirectHosts := map[string]bool{}
		for name, v := range m {
			base, _, _ := strings.Cut(name, "#")
			var uris []string
			switch {
			case v == nil:
				continue
			case slices.Contains(uriArrayMembers, name):
				var err error
				if uris, err = stringArray(m, name); err != nil {
					return err
				}
			case slices.Contains(uriMembers, base):
				s, ok := v.(string)
				if !ok {
					return dcr.Reject(dcr.InvalidClientMetadata, fmt.Sprintf("The value of %q must be a string.", name))
				}
				uris = []string{s}
			default:
				continue
			}
			for _, raw := range uris {
				if err := checkURI(name, base, raw); err != nil {
					return err
				}
				if name == "redirect_uris" {
					if u, err := url.Parse(raw); err == nil {
						redirectHosts[strings.ToLower(u.Hostname())] = true
					}
				}
			}
		}
		if opts.InfoOnRedirectHost {
			for name, v := range m {
				base, _, _ := strings.Cut(name, "#")
				s, ok := v.(string)
				if !ok || !slices.Contains(infoMembers, base) {
					continue
				}
				if u, err := url.Parse(s); err != nil || !redirectHosts[strings.ToLower(u.Hostname())] {
					return dcr.Reject(dcr.InvalidClientMetadata, fmt.Sprintf("The host of %q must be the host of one of the redirect URIs.", name))
				}
			}
		}
		return nil
	}
}

// checkURI applies SafeURIs' rules to the URI raw of member name, whose
// name without a language tag is base.
func checkURI(name, base, raw string) error {
	reject := func(format string, args ...any) error {
		code := dcr.InvalidClientMetadata
		if name == "redirect_uris" {
			code = dcr.InvalidRedirectURI
		}
		return dcr.Reject(code, fmt.Sprintf("The value %q of %q ", raw, name)+fmt.Sprintf(format, args...))
	}
	// Browsers strip leading blanks and control characters before they
	// read a scheme, and ignore tabs and newlines inside it.
	trimmed := strings.TrimLeft(raw, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	trimmed = dropTabsAndNewlines.Replace(trimmed)
	if scheme, _, ok := strings.Cut(trimmed, ":"); ok && slices.Contains(scriptSchemes, strings.ToLower(scheme)) {
		return reject("uses the %s: scheme, which is never allowed.", strings.ToLower(scheme))
	}
	fetched, info := slices.Contains(fetchedMembers, base), slices.Contains(infoMembers, base)
	if !fetched && !info {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return reject("is not an absolute URI.")
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case fetched && u.Scheme != "https":
		return reject("must be https: the authorization server fetches it.")
	case fetched && internalHost(host):
		return reject("names an address of the server's own network; the authorization server fetches it.")
	case info && u.Scheme != "https" && !(u.Scheme == "http" && loopbackHost(host)):
		return reject("must be https (or http on loopback).")
	}
	return nil
}

// loopbackHost reports whether host is localhost or a loopback literal.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// internalHost reports whether host names this machine or a network that
// is not the public Internet: localhost, or an address literal in any
// notation that a resolver's inet_aton accepts.
func internalHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		var ok bool
		if addr, ok = legacyIPv4(host); !ok {
			return false
		}
	}
	addr = addr.Unmap()
	return addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() ||
		addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsUnspecified() ||
		sharedAddressSpace.Contains(addr) || !addr.IsGlobalUnicast()
}

// sharedAddressSpace is RFC 6598's carrier-grade NAT range.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// legacyIPv4 parses the IPv4 notations of inet_aton that netip refuses:
// one to four parts, each decimal, octal (leading 0) or hexadecimal (0x),
// the last filling the remaining bytes (127.1, 0x7f000001, 2130706433).
// It reads an empty part as 0, more leniently than inet_aton: a host made
// of digits and dots alone is taken for an address, never for a name.
func legacyIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums []uint64
	for _, p := range parts {
		base, digits := 10, p
		switch {
		case strings.HasPrefix(p, "0x"):
			base, digits = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		var n uint64
		for _, c := range digits {
			var d uint64
			switch {
			case '0' <= c && c <= '9':
				d = uint64(c - '0')
			case 'a' <= c && c <= 'f':
				d = uint64(c-'a') + 10
			default:
				return netip.Addr{}, false
			}
			if d >= uint64(base) {
				return netip.Addr{}, false
			}
			if n = n*uint64(base) + d; n > 0xffffffff {
				return netip.Addr{}, false
			}
		}
		nums = append(nums, n)
	}
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 0xff {
			return netip.Addr{}, false
		}
		v |= n << (8 * (3 - i))
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}
