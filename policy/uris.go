package policy

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/idna"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/internal/loopback"
)

// uriUse says who follows the URIs of a member, and so what SafeURIs asks
// of them.
type uriUse int

const (
	// redirected URIs are where a browser or an app is sent (redirect_uris):
	// any scheme but a script scheme, since native clients use their own
	// (cursor://, com.example.app:/) and loopback http.
	redirected uriUse = iota + 1
	// browsed URIs are shown to users or opened in their browser: https, or
	// http on loopback.
	browsed
	// serverSide URIs are fetched or posted to by the authorization server
	// itself: https, on a host of the public Internet.
	serverSide
)

// uriMember is one client metadata member that holds URIs.
type uriMember struct {
	use   uriUse
	array bool
}

// uriMembers are the client metadata members that hold URIs: those of
// Authlete's client schema (its OpenAPI document, under their RFC 7591 and
// OpenID Connect names; conformance.TestSafeURIsCoversAuthleteClientSchema
// keeps the two in step) and the OpenID Connect logout members that
// Authlete keeps as custom metadata. A language-tagged variant
// ("logo_uri#ja") is checked as its member.
var uriMembers = map[string]uriMember{
	"redirect_uris":             {redirected, true},
	"post_logout_redirect_uris": {redirected, true},
	"credential_offer_endpoint": {redirected, false}, // OpenID for VCI wallets: openid-credential-offer://

	"logo_uri":                {browsed, false},
	"client_uri":              {browsed, false},
	"policy_uri":              {browsed, false},
	"tos_uri":                 {browsed, false},
	"initiate_login_uri":      {browsed, false},
	"frontchannel_logout_uri": {browsed, false}, // loaded by the user's browser in an iframe

	"jwks_uri":               {serverSide, false},
	"signed_jwks_uri":        {serverSide, false},
	"sector_identifier_uri":  {serverSide, false},
	"request_uris":           {serverSide, true},
	"backchannel_logout_uri": {serverSide, false},
	"backchannel_client_notification_endpoint": {serverSide, false},
}

// infoMembers are the members InfoOnRedirectHost ties to a redirect host.
var infoMembers = []string{"logo_uri", "client_uri", "policy_uri", "tos_uri"}

// scriptSchemes run code or read local files where a URI is followed or
// shown.
var scriptSchemes = []string{"javascript", "data", "vbscript", "file"}

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
// invalid_client_metadata naming the member for the others. It allows
// schemes rather than denying them:
//
//   - redirect_uris, post_logout_redirect_uris and
//     credential_offer_endpoint may use any scheme but javascript:, data:,
//     vbscript: and file: (in any case, after leading blanks, with tabs and
//     newlines inside): native clients use schemes of their own and
//     loopback http;
//   - logo_uri, client_uri, policy_uri, tos_uri, initiate_login_uri and
//     frontchannel_logout_uri, which users' browsers open, must be https,
//     or http on loopback; with InfoOnRedirectHost, the first four must be
//     on the host of a redirect URI;
//   - jwks_uri, signed_jwks_uri, sector_identifier_uri, request_uris,
//     backchannel_logout_uri and backchannel_client_notification_endpoint,
//     which the authorization server itself fetches or posts to, must be
//     https on a host of the public Internet (below). There is no opt-in
//     for http or loopback: a development server that needs one runs
//     without SafeURIs.
//
// The last two groups must also be absolute URIs without user information
// (name@host) or backslashes, whose host maps under UTS 46 (as browsers,
// curl and Go's net/http map it: fullwidth letters and digits, ideographic
// full stops, enclosed alphanumerics, percent-encoded UTF-8) to a DNS name
// or an address literal.
//
// Invariant: no URI that SafeURIs accepts in a member the authorization
// server fetches or posts to names, after the mapping any mainstream HTTP
// client applies, an address that is not public: the host is an IPv4
// address in any notation of the WHATWG URL parser (127.1, 0x7f.1,
// 0177.0.0.1, 2130706433) or an IPv6 literal, and is refused unless it is
// globally reachable in IANA's special-purpose address registries
// (loopback, RFC 1918 and RFC 4193 private, CGNAT, link-local and the
// cloud metadata address 169.254.169.254, site-local fec0::/10,
// multicast, unspecified, documentation and benchmarking ranges, reserved
// space); an IPv6 address that carries an IPv4 one (::ffff:0:0/96,
// 64:ff9b::/96, 2002::/16) is judged by that IPv4 address, and
// ::/96, 64:ff9b:1::/48 and 2001::/23 (Teredo among them) are refused; a
// DNS name is refused when it is localhost or under it, has a single
// label (resolved through the search domains: kubernetes, metadata), or
// ends in a suffix that is not of the public DNS (local, internal,
// localdomain, home.arpa, lan, home, corp, intranet, private, svc). A DNS
// name that resolves to an internal address is the fetcher's to refuse.
// TestSafeURIsRefusesInternalHosts generates the attacks.
//
// A member of the wrong type is refused; null counts as absent.
func SafeURIs(opts SafeURIOptions) dcr.Policy {
	return func(_ *http.Request, m dcr.Metadata) error {
		var redirects []string
		for name, v := range m {
			base, _, _ := strings.Cut(name, "#")
			member, ok := uriMembers[base]
			if !ok || v == nil {
				continue
			}
			if !member.array {
				s, ok := v.(string)
				if !ok {
					return dcr.Reject(dcr.InvalidClientMetadata, fmt.Sprintf("The value of %q must be a string.", name))
				}
				if err := checkURI(name, member.use, s); err != nil {
					return err
				}
				continue
			}
			uris, err := stringArray(m, name)
			if err != nil {
				return err
			}
			for _, raw := range uris {
				if err := checkURI(name, member.use, raw); err != nil {
					return err
				}
			}
			if name == "redirect_uris" {
				redirects = uris
			}
		}
		if opts.InfoOnRedirectHost {
			redirectHosts := make(map[string]bool, len(redirects))
			for _, raw := range redirects {
				redirectHosts[comparableHost(raw)] = true
			}
			for name, v := range m {
				base, _, _ := strings.Cut(name, "#")
				s, ok := v.(string)
				if !ok || !slices.Contains(infoMembers, base) {
					continue
				}
				if !redirectHosts[comparableHost(s)] {
					return dcr.Reject(dcr.InvalidClientMetadata, fmt.Sprintf("The host of %q must be the host of one of the redirect URIs.", name))
				}
			}
		}
		return nil
	}
}

// comparableHost returns the host of the URI raw as a client connects to
// it, or its host in lower case when it has none that maps, or "" when raw
// does not parse.
func comparableHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	if h, err := hostOf(u); err == nil {
		if h.addr.IsValid() {
			return h.addr.String()
		}
		return h.name
	}
	return strings.ToLower(u.Hostname())
}

// checkURI applies SafeURIs' rules for use to the URI raw of member name.
func checkURI(name string, use uriUse, raw string) error {
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
	if use == redirected {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return reject("is not an absolute URI.")
	}
	if u.User != nil {
		return reject("has user information before its host, which is not allowed.")
	}
	// WHATWG URL parsers read a backslash as a slash, Go's as a character.
	if strings.Contains(raw, `\`) {
		return reject("has a backslash, which clients read in different ways.")
	}
	h, err := hostOf(u)
	if err != nil {
		return reject("has a host that is not a DNS name or an IP address: %s.", err)
	}
	switch {
	case use == serverSide && u.Scheme != "https":
		return reject("must be https: the authorization server itself sends requests to it.")
	case use == serverSide && !h.public():
		return reject("names an address of the server's own network; the authorization server itself sends requests to it.")
	case use == browsed && u.Scheme != "https" && !(u.Scheme == "http" && h.loopback()):
		return reject("must be https (or http on loopback).")
	}
	return nil
}

// A host is what an HTTP client connects to: an IP address, or else a DNS
// name in ASCII, lower case, without a trailing dot.
type host struct {
	name string
	addr netip.Addr
}

// uts46 maps a host as the WHATWG URL standard does (browsers, Node's
// fetch): UTS 46 nontransitional processing without the STD3 rules. Go's
// net/http maps with the stricter idna.Lookup, which refuses more and maps
// the rest alike. Transitional processing (IDNA 2003 clients, libidn2's
// fallback) differs in ß, ς and the joiners alone, which change no
// address and no name that SafeURIs refuses.
var uts46 = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false), idna.CheckHyphens(false), idna.BidiRule())

// hostOf returns the host of u as clients connect to it.
func hostOf(u *url.URL) (host, error) {
	hostname := u.Hostname() // percent-decoded by url.Parse
	if strings.HasPrefix(u.Host, "[") {
		addr, err := netip.ParseAddr(hostname)
		switch {
		case err != nil:
			return host{}, fmt.Errorf("%q is not an IPv6 address", hostname)
		case addr.Zone() != "":
			return host{}, fmt.Errorf("%q has a zone", hostname)
		}
		return host{addr: addr}, nil
	}
	ascii, err := uts46.ToASCII(hostname)
	if err != nil {
		return host{}, fmt.Errorf("%q does not map to a DNS name under UTS 46", hostname)
	}
	return nameOrIPv4(ascii)
}

// nameOrIPv4 reads the mapped host s as the WHATWG URL host parser does:
// an IPv4 address when its last label is a number, else a DNS name.
func nameOrIPv4(s string) (host, error) {
	s = strings.TrimSuffix(s, ".")
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" {
			return host{}, fmt.Errorf("%q has an empty label", s)
		}
		if strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return host{}, fmt.Errorf("%q has a character that no DNS name has", s)
		}
	}
	last := labels[len(labels)-1]
	if _, ok := ipv4Number(last); !ok && strings.Trim(last, "0123456789") != "" {
		return host{name: s}, nil
	}
	addr, ok := parseIPv4(labels)
	if !ok {
		return host{}, fmt.Errorf("%q ends in a number but is not an IPv4 address", s)
	}
	return host{addr: addr}, nil
}

// parseIPv4 is the WHATWG URL standard's IPv4 parser (and inet_aton's):
// one to four parts, each decimal, octal (leading 0) or hexadecimal (0x),
// the last filling the remaining bytes (127.1, 0x7f000001, 2130706433).
func parseIPv4(parts []string) (netip.Addr, bool) {
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := ipv4Number(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 0xff {
				return netip.Addr{}, false
			}
			v |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(5-len(parts))) {
			return netip.Addr{}, false
		}
		v |= n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// ipv4Number parses one part of an IPv4 address, never empty (nameOrIPv4
// refuses empty labels): decimal, octal after a leading 0, hexadecimal
// after 0x ("0x" alone is 0).
func ipv4Number(p string) (uint64, bool) {
	base, digits := uint64(10), p
	switch {
	case strings.HasPrefix(p, "0x"):
		base, digits = 16, p[2:]
	case len(p) > 1 && p[0] == '0':
		base, digits = 8, p[1:]
	}
	var n uint64
	for _, c := range digits {
		d := uint64(strings.IndexRune("0123456789abcdef", c))
		if d >= base { // IndexRune's -1 is the largest uint64
			return 0, false
		}
		if n = n*base + d; n > 0xffffffff {
			return 0, false
		}
	}
	return n, true
}

// loopback reports whether h is localhost or a loopback address (the
// meaning of loopback.Host).
func (h host) loopback() bool {
	return loopback.Name(h.name) || loopback.Addr(h.addr)
}

// public reports whether h is a host of the public Internet: a DNS name
// of the public DNS, or a globally reachable address.
func (h host) public() bool {
	if h.addr.IsValid() {
		return publicAddr(h.addr)
	}
	labels := strings.Split(h.name, ".")
	tld := labels[len(labels)-1]
	return len(labels) > 1 && tld != "localhost" && !slices.Contains(privateSuffixes, tld) &&
		!strings.HasSuffix(h.name, ".home.arpa")
}

// privateSuffixes are top-level names that resolve, if at all, inside a
// network: RFC 6762's local, ICANN's internal, names of /etc/hosts and
// home routers, and Kubernetes' svc.
var privateSuffixes = []string{"local", "internal", "localdomain", "lan", "home", "corp", "intranet", "private", "svc"}

// publicAddr reports whether a is globally reachable: outside every range
// that IANA's special-purpose address registries mark not globally
// reachable, and an IPv6 address that carries an IPv4 one judged by it.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is4() {
		return !slices.ContainsFunc(nonPublicIPv4, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return publicAddr(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		return publicAddr(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return globalUnicast.Contains(a) && !slices.ContainsFunc(nonPublicIPv6, func(p netip.Prefix) bool { return p.Contains(a) })
}

var (
	// nonPublicIPv4 are the IPv4 ranges that are not globally reachable
	// (IANA IPv4 Special-Purpose Address Registry, plus multicast and
	// the reserved 240.0.0.0/4 with the broadcast address).
	nonPublicIPv4 = prefixes("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4")
	// globalUnicast is the only IPv6 space allocated for global unicast;
	// outside it lie ::/96, ::ffff:0:0:0/96, 64:ff9b:1::/48, 100::/64,
	// fc00::/7, fe80::/10, fec0::/10 and ff00::/8.
	globalUnicast = netip.MustParsePrefix("2000::/3")
	// nonPublicIPv6 are the ranges inside it that are not globally
	// reachable: IETF protocol assignments (Teredo's 2001::/32 among them),
	// documentation.
	nonPublicIPv6 = prefixes("2001::/23", "2001:db8::/32", "3fff::/20")
	// nat64 and sixToFour carry an IPv4 address (RFC 6052, RFC 3056).
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

func prefixes(s ...string) []netip.Prefix {
	p := make([]netip.Prefix, len(s))
	for i, s := range s {
		p[i] = netip.MustParsePrefix(s)
	}
	return p
}
