package policy

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/dcr-go/dcr"
)

// ReservedNames refuses, with invalid_client_metadata, a registration or
// update whose client_name (or a localized client_name#...) looks like
// one of the reserved names, unless each of its redirect URIs is one of
// that name's: an https or http redirect URI whose host is in the name's
// list (a host, or "*.example.com" for its subdomains), a loopback one
// (http://localhost, 127.0.0.1, [::1]: only the user's own machine gets
// the code), or one whose scheme is listed as "scheme:". It stops a
// registration named "Claude" whose redirect URI sends the victim's code
// to an attacker:
//
//	policy.ReservedNames(map[string][]string{
//		"Claude":  {"claude.ai", "*.claude.ai", "claude.com", "*.claude.com"},
//		"ChatGPT": {"chatgpt.com", "*.chatgpt.com"},
//	})
//
// Names are compared after Unicode compatibility normalisation (NFKD),
// case folding, removal of marks, spaces, punctuation and invisible
// characters, and mapping of Cyrillic and Greek look-alikes and of 0, 1
// and I to o, l and l; a name that contains a reserved name so compared
// looks like it: "Claude Desktop", "CLAUDE", "Сlaude" with a Cyrillic С,
// "Cla\u200bude" with a zero-width space and "Ｃｌａｕｄｅ" all do.
//
// A client name longer than MaxClientNameBytes is refused before it is
// normalised: normalisation can expand a name 18-fold, and an update is
// checked before Authlete has checked its token. A reserved name without
// redirect URIs (the device code and CIBA grants, which show the user a
// name and nothing else) is refused too.
func ReservedNames(reserved map[string][]string) dcr.Policy {
	type entry struct {
		name, skeleton string
		allowed        []string
	}
	var entries []entry
	for name, allowed := range reserved {
		lower := make([]string, len(allowed))
		for i, a := range allowed {
			lower[i] = strings.ToLower(strings.Trim(a, "[]"))
		}
		entries = append(entries, entry{name, skeleton(name), lower})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return func(_ *http.Request, m dcr.Metadata) error {
		var uris []string
		checked := false
		for member, v := range m {
			if member != "client_name" && !strings.HasPrefix(member, "client_name#") {
				continue
			}
			name, ok := v.(string)
			if !ok {
				if v == nil {
					continue
				}
				return dcr.Reject(dcr.InvalidClientMetadata, `The value of "`+member+`" must be a string.`)
			}
			if len(name) > MaxClientNameBytes {
				return dcr.Reject(dcr.InvalidClientMetadata, fmt.Sprintf(`The value of %q is longer than %d bytes.`, member, MaxClientNameBytes))
			}
			s := skeleton(name)
			for _, e := range entries {
				if e.skeleton == "" || !strings.Contains(s, e.skeleton) {
					continue
				}
				if !checked {
					var err error
					if uris, err = redirectURIs(m); err != nil {
						return err
					}
					checked = true
				}
				if len(uris) == 0 {
					// No redirect URI: the device code or CIBA grant, where
					// the user is shown the name and nothing else.
					return reservedNameError(name, e.name)
				}
				for _, raw := range uris {
					if !reservedRedirectURI(raw, e.allowed) {
						return reservedNameError(name, e.name)
					}
				}
			}
		}
		return nil
	}
}

// MaxClientNameBytes bounds the client names ReservedNames compares, in
// bytes of UTF-8: 256 is four times the longest name of a real MCP client,
// and an attacker's longest NFKD expansion of it costs microseconds.
const MaxClientNameBytes = 256

// reservedRedirectURI reports whether raw is a redirect URI a reserved
// name may have.
func reservedRedirectURI(raw string, allowed []string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	if slices.Contains(allowed, scheme+":") {
		return true
	}
	switch scheme {
	case "http":
		if host == "localhost" || host == "127.0.0.1" || host == "::1" {
			return true
		}
	case "https":
	default:
		return false
	}
	return slices.ContainsFunc(allowed, func(a string) bool { return hostMatches(a, host) })
}

// lookAlikes map letters of other scripts, and digits, that look like a
// Latin letter to it (after case folding).
var lookAlikes = map[rune]rune{
	// Cyrillic
	'а': 'a', 'в': 'b', 'ԁ': 'd', 'е': 'e', 'ё': 'e', 'һ': 'h', 'н': 'h', 'і': 'l', 'ї': 'l', 'ј': 'j', 'к': 'k',
	'ӏ': 'l', 'м': 'm', 'о': 'o', 'р': 'p', 'ԛ': 'q', 'ѕ': 's', 'т': 't', 'у': 'y', 'ԝ': 'w', 'х': 'x', 'ү': 'y',
	'с': 'c', 'ɡ': 'g',
	// Greek
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'l', 'κ': 'k', 'μ': 'u', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't',
	'υ': 'u', 'χ': 'x', 'ζ': 'z',
	// Latin and digits that pass for others
	'0': 'o', '1': 'l', 'i': 'l', 'ı': 'l', 'ℓ': 'l',
}

var fold = cases.Fold()

// skeleton reduces a name to what it looks like; see ReservedNames.
func skeleton(name string) string {
	s := fold.String(norm.NFKD.String(name))
	var b strings.Builder
	for _, r := range s {
		if unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Cc, unicode.Z, unicode.P, unicode.S) || unicode.IsSpace(r) {
			continue
		}
		if l, ok := lookAlikes[r]; ok {
			r = l
		}
		b.WriteRune(r)
	}
	return strings.NewReplacer("rn", "m", "vv", "w").Replace(b.String())
}

// reservedNameError is the rejection of a look-alike of a reserved name.
func reservedNameError(name, reserved string) error {
	return dcr.Reject(dcr.InvalidClientMetadata,
		fmt.Sprintf("The client name %q is reserved for %s, whose redirect URIs it does not have.", name, reserved))
}
