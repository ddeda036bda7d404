package policy

import (
	_ "embed"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
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
// Names are compared by what they look like: the Unicode TR39 skeleton
// (from Unicode's confusables.txt) of their compatibility decomposition,
// case folded, without invisible code points (default-ignorable ones such
// as zero-width spaces and Hangul fillers, bidirectional controls),
// combining marks (accents, the stroke of ł or Ø), spaces, punctuation and
// symbols. A name that contains a reserved name so compared looks like it:
// "Claude Desktop", "CLAUDE", "Сlaude" with a Cyrillic С, "Cla\u200bude",
// "Ｃｌａｕｄｅ", "Cłaude", "ᴄlaude", "C|aude", Cherokee "ᏟᏞᎪUᎠᎬ" and "ØpenAI"
// all do. A name with a bidirectional override, embedding or isolate
// ("\u202eedualC" shows as "Claude") is refused outright.
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
			if reorders(name) {
				return dcr.Reject(dcr.InvalidClientMetadata, fmt.Sprintf(`The value of %q holds a bidirectional override, embedding or isolate, which shows it in another order than it is written.`, member))
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

// confusablesTxt is Unicode's confusables.txt (UTS #39), version 13.0.0;
// see the file's header.
//
//go:embed confusables.txt
var confusablesTxt string

// confusables maps each source code point of confusables.txt to its
// prototype, read once.
var confusables = sync.OnceValue(func() map[rune]string {
	m := make(map[rune]string, 6400)
	for _, line := range strings.Split(confusablesTxt, "\n") {
		if line = strings.TrimSpace(line); line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Split(line, ";")
		if len(fields) < 2 {
			continue
		}
		src, err := strconv.ParseUint(strings.TrimSpace(fields[0]), 16, 32)
		if err != nil {
			continue
		}
		var target strings.Builder
		for _, cp := range strings.Fields(fields[1]) {
			if n, err := strconv.ParseUint(cp, 16, 32); err == nil {
				target.WriteRune(rune(n))
			}
		}
		m[rune(src)] = target.String()
	}
	return m
})

var fold = cases.Fold()

// skeleton reduces a name to what it looks like (see ReservedNames): the
// TR39 skeleton (NFD, confusables.txt, NFD) of its compatibility
// decomposition, case folded, without invisible code points, combining
// marks (accents, and overlays such as the stroke of ł or Ø), spaces,
// punctuation and symbols. Twice, because folding can make a new
// confusable ('0' is 'O', which folds to 'o').
func skeleton(name string) string {
	return skeletonPass(skeletonPass(name))
}

func skeletonPass(s string) string {
	table := confusables()
	s = norm.NFD.String(norm.NFKD.String(s))
	var mapped strings.Builder
	for _, r := range s {
		if t, ok := table[r]; ok {
			mapped.WriteString(t)
			continue
		}
		mapped.WriteRune(r)
	}
	var b strings.Builder
	for _, r := range norm.NFD.String(mapped.String()) {
		if unicode.Is(invisible, r) || unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Cc, unicode.Z, unicode.P, unicode.S) || unicode.IsSpace(r) {
			continue
		}
		b.WriteRune(r)
	}
	return fold.String(b.String())
}

// reorders reports whether s holds a bidirectional embedding, override or
// isolate, which display the text around it in another order than it is
// stored: "\u202eedualC" shows as "Claude".
func reorders(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return ('\u202a' <= r && r <= '\u202e') || ('\u2066' <= r && r <= '\u2069')
	})
}

// reservedNameError is the rejection of a look-alike of a reserved name.
func reservedNameError(name, reserved string) error {
	return dcr.Reject(dcr.InvalidClientMetadata,
		fmt.Sprintf("The client name %q is reserved for %s, whose redirect URIs it does not have.", name, reserved))
}
