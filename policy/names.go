package policy

import (
	_ "embed"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/runenames"

	"github.com/dcr-go/dcr"
)

// ReservedNames refuses, with invalid_client_metadata, a registration or
// update whose client_name, or any localized client_name#tag, a person
// would read as one of the reserved names, unless each of its redirect
// URIs is one of that name's and each of its grant types goes through a
// redirect:
//
//	policy.ReservedNames(map[string][]string{
//		"Claude":  {"claude.ai", "*.claude.ai", "claude.com", "*.claude.com"},
//		"ChatGPT": {"chatgpt.com", "*.chatgpt.com"},
//	})
//
// A name's redirect URIs are: an https or http redirect URI whose host is
// in the name's list (a host, or "*.example.com" for its subdomains), a
// loopback one (http://localhost, 127.0.0.1, [::1]: only the user's own
// machine gets the code), or one whose scheme is listed as "scheme:". A
// reserved name needs at least one redirect URI, and its grant types (if
// given) may only be authorization_code, implicit and refresh_token: the
// device code and CIBA grants, and any other, show the user the name
// without sending the code to a redirect URI, so the redirect URIs prove
// nothing.
//
// The invariant: no registration whose client_name or client_name#tag a
// person would read as a reserved name is accepted unless every redirect
// URI is the owner's and no grant shows the name without a redirect. A
// name reads as a reserved name when the reserved name, in any casing,
// appears in it as a word once both are reduced to what they look like:
//
//   - the Unicode TR39 skeleton (confusables.txt), case by case: "CIaude"
//     with a capital I reads as "Claude", and "openai" as "OpenAI", but
//     "OpenAL" (the audio library) is not "OpenAI";
//   - compatibility forms (NFKD): fullwidth, mathematical, circled,
//     squared, superscript letters;
//   - Latin letters with a hook, curl, descender or stroke that Unicode
//     does not decompose ("ⱨ", "ʈ", "ȡ", "ꝑ"), small capitals ("ɢ") and
//     enclosed letters without a decomposition ("🅒", regional indicators),
//     read as their base letter from their Unicode name;
//   - without default-ignorable code points (zero-width spaces, Hangul
//     fillers, variation selectors), combining marks (accents, the stroke
//     of ł or Ø), spaces, punctuation and symbols inside it.
//
// A word ends at the start or end of the name, at a space, punctuation,
// symbol or invisible code point, where a lowercase letter meets a capital
// ("MyClaude", "ClaudeCode"), before the last capital of a run followed by
// a lowercase letter ("OpenAIHelper"), between a letter and a digit
// ("ChatGPT4"), between a cased letter and one without case, and where
// plain letters meet compatibility forms. So "Claude Desktop", "CLAUDE",
// "open ai", "openai codex", "Сlaude" with a Cyrillic С, "C l a u d e",
// "Ｃｌａｕｄｅ" and "ChatGPT-4o" are refused, while "Clauder",
// "Claudette's Bakery", "Cursory Notes", "Chatterbox" and "Anthropology
// Notes" are other words and pass. A name with a bidirectional override,
// embedding or isolate ("\u202eedualC" shows as "Claude") is refused
// outright.
//
// A client name longer than MaxClientNameBytes is refused before it is
// normalised: normalisation can expand a name 18-fold, and an update is
// checked before Authlete has checked its token.
func ReservedNames(reserved map[string][]string) dcr.Policy {
	type entry struct {
		name    string
		pattern [][]string // per letter, the skeletons of its casings
		allowed []string
	}
	var entries []entry
	for name, allowed := range reserved {
		lower := make([]string, len(allowed))
		for i, a := range allowed {
			lower[i] = strings.ToLower(strings.Trim(a, "[]"))
		}
		if p := pattern(name); len(p) > 0 {
			entries = append(entries, entry{name, p, lower})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return func(_ *http.Request, m dcr.Metadata) error {
		for _, member := range slices.Sorted(func(yield func(string) bool) {
			for k := range m {
				if (k == "client_name" || strings.HasPrefix(k, "client_name#")) && !yield(k) {
					return
				}
			}
		}) {
			v := m[member]
			if v == nil {
				continue
			}
			name, ok := v.(string)
			if !ok {
				return dcr.Reject(dcr.InvalidClientMetadata, `The value of "`+member+`" must be a string.`)
			}
			if len(name) > MaxClientNameBytes {
				return dcr.Reject(dcr.InvalidClientMetadata, fmt.Sprintf(`The value of %q is longer than %d bytes.`, member, MaxClientNameBytes))
			}
			if reorders(name) {
				return dcr.Reject(dcr.InvalidClientMetadata, fmt.Sprintf(`The value of %q holds a bidirectional override, embedding or isolate, which shows it in another order than it is written.`, member))
			}
			w := read(name)
			for _, e := range entries {
				if !w.contains(e.pattern) {
					continue
				}
				why, err := ownersOnly(m, e.allowed)
				if err != nil {
					return err
				}
				if why != "" {
					return dcr.Reject(dcr.InvalidClientMetadata,
						fmt.Sprintf("The client name %q is reserved for %s: %s.", name, e.name, why))
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

// redirectGrants are the grant types under which the user meets the client
// only through a redirect URI (refresh_token: after one).
var redirectGrants = []string{"authorization_code", "implicit", "refresh_token"}

// ownersOnly returns why m may not have a reserved name whose redirect
// hosts are allowed ("" if it may), or the error of malformed metadata.
func ownersOnly(m dcr.Metadata, allowed []string) (string, error) {
	uris, err := redirectURIs(m)
	if err != nil {
		return "", err
	}
	if len(uris) == 0 {
		return "it has no redirect URIs", nil
	}
	for _, raw := range uris {
		if !reservedRedirectURI(raw, allowed) {
			return "its redirect URIs are not all its owner's", nil
		}
	}
	grants, err := stringArray(m, "grant_types")
	if err != nil {
		return "", err
	}
	for _, g := range grants {
		if !slices.Contains(redirectGrants, g) {
			return fmt.Sprintf("its grant type %q shows the name without a redirect", g), nil
		}
	}
	return "", nil
}

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

// defaultIgnorable reports whether r is a Default_Ignorable_Code_Point,
// derived from Go's unicode tables as Unicode's DerivedCoreProperties.txt
// derives it: Other_Default_Ignorable_Code_Point, format characters (Cf)
// and variation selectors, less white space, the interlinear annotation
// characters U+FFF9..U+FFFB, the Egyptian hieroglyph format controls
// U+13430..U+1343F and the prepended concatenation marks. The Hangul
// fillers U+115F, U+1160, U+3164 and U+FFA0 are among them.
func defaultIgnorable(r rune) bool {
	if unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) {
		return true
	}
	if !unicode.In(r, unicode.Cf, unicode.Variation_Selector) {
		return false
	}
	return !unicode.In(r, unicode.White_Space, unicode.Prepended_Concatenation_Mark) &&
		!(0xFFF9 <= r && r <= 0xFFFB) && !(0x13430 <= r && r <= 0x1343F)
}

// latinName matches the Unicode names of Latin letters that read as
// their base letter but that Unicode neither decomposes nor lists in
// confusables.txt: "LATIN SMALL LETTER T WITH RETROFLEX HOOK", "LATIN
// LETTER SMALL CAPITAL G", "NEGATIVE CIRCLED LATIN CAPITAL LETTER C",
// "REGIONAL INDICATOR SYMBOL LETTER C". Group 1 is the kind (CAPITAL,
// SMALL, SMALL CAPITAL), group 2 the letter.
var latinName = regexp.MustCompile(`^(?:(?:NEGATIVE |)(?:CIRCLED|SQUARED|PARENTHESIZED) )?LATIN (CAPITAL|SMALL|LETTER SMALL CAPITAL|SMALL CAPITAL) (?:LETTER )?([A-Z])(?: WITH .*)?$|^REGIONAL INDICATOR SYMBOL LETTER ([A-Z])$`)

// latinBase returns the base letter of a Latin letter that latinName
// matches.
func latinBase(r rune) (rune, bool) {
	if r < 0x80 || !unicode.In(r, unicode.L, unicode.So) {
		return 0, false
	}
	m := latinName.FindStringSubmatch(runenames.Name(r))
	switch {
	case m == nil:
		return 0, false
	case m[3] != "":
		return rune(m[3][0]), true
	case m[1] == "SMALL":
		return unicode.ToLower(rune(m[2][0])), true
	}
	return rune(m[2][0]), true
}

// look appends to out the skeleton of r: the code points it looks like,
// case kept, after its canonical decomposition, confusables.txt, its
// compatibility decomposition and latinBase, in that order, each result
// looked at again; letters and digits only. TR39's skeleton is the first
// two; the others catch what they miss (NFKD turns U+03F2 "ϲ", which
// confusables.txt maps to "c", into a final sigma, so the table goes
// first).
func look(r rune, depth int, out []rune) []rune {
	if defaultIgnorable(r) {
		return out
	}
	if depth < 8 {
		if r < 0x80 {
			if t, ok := confusables()[r]; ok {
				return lookAll(t, depth, out)
			}
		} else if d := norm.NFD.String(string(r)); d != string(r) {
			return lookAll(d, depth, out)
		} else if t, ok := confusables()[r]; ok {
			return lookAll(norm.NFD.String(t), depth, out)
		} else if d := norm.NFKD.String(string(r)); d != string(r) {
			return lookAll(d, depth, out)
		} else if b, ok := latinBase(r); ok {
			return look(b, depth+1, out)
		}
	}
	if unicode.In(r, unicode.L, unicode.N) {
		return append(out, r)
	}
	return out
}

func lookAll(s string, depth int, out []rune) []rune {
	for _, r := range s {
		out = look(r, depth+1, out)
	}
	return out
}

// kind is what a code point of a name is to the words of the name.
type kind uint8

const (
	separator kind = iota // not a letter or digit, or invisible: ends a word
	mark                  // a combining mark: part of the letter before it
	upper
	lower
	caseless
	digit
)

// kindOf returns r's kind, whether it is a compatibility form, and the
// skeleton code points it adds.
func kindOf(r rune, buf []rune) (kind, bool, []rune) {
	buf = look(r, 0, buf[:0])
	if len(buf) == 0 {
		if unicode.Is(unicode.M, r) && !defaultIgnorable(r) {
			return mark, false, buf
		}
		return separator, false, buf
	}
	d := []rune(norm.NFKD.String(string(r)))
	compat := string(d) != norm.NFD.String(string(r))
	if b, ok := latinBase(r); ok {
		d = []rune{b}
		compat = !strings.HasPrefix(runenames.Name(r), "LATIN")
	}
	switch c := d[0]; {
	case unicode.IsUpper(c) || unicode.IsTitle(c):
		return upper, compat, buf
	case unicode.IsLower(c):
		return lower, compat, buf
	case unicode.IsDigit(c):
		return digit, compat, buf
	}
	return caseless, compat, buf
}

// words is a name as it looks: its skeleton, and where a word may start
// or end in it (starts[i]: before skeleton[i]; starts[len(skeleton)]: at
// the end).
type words struct {
	skeleton []rune
	starts   []bool
}

// read reduces name to words (see ReservedNames).
func read(name string) words {
	var w words
	var buf []rune
	type letter struct {
		k      kind
		compat bool
		at     int // index in skeleton of its first code point
	}
	var prev, prev2 *letter // the letters before, within one word
	for _, r := range name {
		k, compat, s := kindOf(r, buf)
		buf = s
		switch k {
		case mark:
			continue
		case separator:
			prev, prev2 = nil, nil
			if len(w.starts) > 0 {
				w.starts[len(w.starts)-1] = true
			}
			continue
		}
		cur := &letter{k, compat, len(w.skeleton)}
		start := prev == nil || prev.compat != compat ||
			(prev.k != k && !(prev.k == upper && k == lower))
		if prev != nil && prev2 != nil && prev2.k == upper && prev.k == upper && k == lower && prev2.compat == prev.compat && prev.compat == compat {
			w.starts[prev.at] = true // "AIHelper": a word starts at H
		}
		if len(w.starts) == 0 {
			w.starts = append(w.starts, true)
		}
		w.starts[len(w.starts)-1] = w.starts[len(w.starts)-1] || start
		for range s {
			w.skeleton = append(w.skeleton, 0)
			w.starts = append(w.starts, false)
		}
		copy(w.skeleton[cur.at:], s)
		prev, prev2 = cur, prev
	}
	if len(w.starts) == 0 {
		w.starts = append(w.starts, true)
	}
	w.starts[len(w.starts)-1] = true
	return w
}

// pattern is how name is looked for: per letter or digit of it, the
// skeletons of each of its casings.
func pattern(name string) [][]string {
	var p [][]string
	for _, r := range norm.NFKD.String(name) {
		var alts []string
		c := r
		for {
			if s := string(look(c, 0, nil)); s != "" && !slices.Contains(alts, s) {
				alts = append(alts, s)
			}
			if c = unicode.SimpleFold(c); c == r {
				break
			}
		}
		if len(alts) > 0 {
			p = append(p, alts)
		}
	}
	return p
}

// contains reports whether p appears in w as whole words.
func (w words) contains(p [][]string) bool {
	var at func(i, k int) bool
	at = func(i, k int) bool {
		if k == len(p) {
			return w.starts[i]
		}
		for _, alt := range p[k] {
			n := 0
			for _, r := range alt {
				if i+n >= len(w.skeleton) || w.skeleton[i+n] != r {
					n = -1
					break
				}
				n++
			}
			if n > 0 && at(i+n, k+1) {
				return true
			}
		}
		return false
	}
	for i := range w.skeleton {
		if w.starts[i] && at(i, 0) {
			return true
		}
	}
	return false
}

// reorders reports whether s holds a bidirectional embedding, override or
// isolate, which display the text around it in another order than it is
// stored: "\u202eedualC" shows as "Claude". (Of the Bidi_Control code
// points, the marks U+061C, U+200E and U+200F only are not.)
func reorders(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.Is(unicode.Bidi_Control, r) && r != '\u061c' && r != '\u200e' && r != '\u200f'
	})
}
