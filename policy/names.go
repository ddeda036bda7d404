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
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/runenames"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/internal/loopback"
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
//     of ł or Ø), spaces, punctuation and symbols inside it, and letters
//     that confusables.txt says look like punctuation ("ʼ", U+02BC);
//   - a compatibility form that reads as an ASCII letter is that letter,
//     whatever confusables.txt says ("ˡ", U+02E1, is "l").
//   - "cl" is "d" and "vv" is "w", as "rn" is "m" in confusables.txt.
//
// A word ends at the start or end of the name, at a space, punctuation,
// symbol or invisible code point, where a lowercase letter meets a capital
// ("MyClaude", "ClaudeCode"), before the last capital of a run followed by
// a lowercase letter ("OpenAIHelper"), between a cased letter, a letter
// without case and a digit ("ChatGPT4", "クロードClaude", "アプリ0penAI"), and around a
// compatibility form or a symbol that reads as letters ("Claude™"). A
// letter has the case of what it reads as ("θ" is a capital O with a
// bar). So "Claude Desktop", "CLAUDE", "open ai", "openai codex",
// "Сlaude" with a Cyrillic С, "C l a u d e", "Ｃｌａｕｄｅ" and "ChatGPT-4o"
// are refused, while "Clauder", "Claudette's Bakery", "Cursory Notes",
// "Chatterbox" and "Anthropology Notes" are other words and pass; so do
// "myclaude" and "claudeapp": glued to small letters, a reserved name is
// part of another word. A name with a bidirectional override, embedding or
// isolate ("\u202eedualC" shows as "Claude") is refused outright.
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
	kinds := newKindMemo()
	return func(_ *http.Request, m dcr.Metadata) error {
		var inline [4]string // most registrations have one client name, or none
		members := inline[:0]
		for k := range m {
			if k == "client_name" || strings.HasPrefix(k, "client_name#") {
				members = append(members, k)
			}
		}
		slices.Sort(members)
		for _, member := range members {
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
			w := kinds.read(name)
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
// bytes of UTF-8: 256 is four times the longest name of a real MCP client.
// An attacker's longest NFKD expansion of it (85 × U+FDFA, 1,530 code
// points) costs some 30 µs, read through the policy's kindMemo
// (BenchmarkReservedNamesWorstName).
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
		if loopback.RedirectHost(host) {
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

// latinBase returns the base letter of a Latin letter that reads as it
// but that Unicode neither decomposes nor lists in confusables.txt, from
// its Unicode name: "LATIN SMALL LETTER T WITH RETROFLEX HOOK" is t, "LATIN
// LETTER SMALL CAPITAL G" and "NEGATIVE CIRCLED LATIN CAPITAL LETTER C" are
// G and C, "REGIONAL INDICATOR SYMBOL LETTER C" is C.
func latinBase(r rune) (rune, bool) {
	if r < 0x80 || !unicode.In(r, unicode.L, unicode.So) {
		return 0, false
	}
	name := runenames.Name(r)
	if l, ok := strings.CutPrefix(name, "REGIONAL INDICATOR SYMBOL LETTER "); ok && len(l) == 1 {
		return rune(l[0]), true
	}
	enclosure, rest, ok := strings.Cut(name, "LATIN ")
	if !ok || !slices.Contains(enclosures, enclosure) {
		return 0, false
	}
	rest, _, _ = strings.Cut(rest, " WITH ")
	for _, k := range letterKinds {
		if l, ok := strings.CutPrefix(rest, k.prefix); ok && len(l) == 1 && 'A' <= l[0] && l[0] <= 'Z' {
			if k.small {
				return rune(l[0]) - 'A' + 'a', true
			}
			return rune(l[0]), true
		}
	}
	return 0, false
}

// letterKinds are the words between "LATIN" and the letter in the names
// latinBase reads, and whether the letter is small.
var letterKinds = []struct {
	prefix string
	small  bool
}{{"CAPITAL LETTER ", false}, {"SMALL LETTER ", true}, {"LETTER SMALL CAPITAL ", false}, {"SMALL CAPITAL LETTER ", false}}

// enclosures are the words before "LATIN" in the names of the enclosed
// Latin letters that latinBase reads.
var enclosures = []string{"", "CIRCLED ", "SQUARED ", "PARENTHESIZED ", "NEGATIVE CIRCLED ", "NEGATIVE SQUARED "}

// look appends to out the skeleton of r: the code points it looks like,
// case kept, after its canonical decomposition, confusables.txt, its
// compatibility decomposition and latinBase, in that order, each result
// looked at again; letters and digits only. TR39's skeleton is the first
// two; the others catch what they miss (NFKD turns U+03F2 "ϲ", which
// confusables.txt maps to "c", into a final sigma, so the table goes
// first).
func look(r rune, depth int, out []rune) []rune {
	switch {
	case defaultIgnorable(r):
		return out
	case depth >= 8: // no data goes this deep; a bound all the same
		return letter(r, out)
	case r < 0x80: // ASCII: "|", "0", "1", "I" and "m" are in confusables.txt
		if t, ok := confusables()[r]; ok {
			return lookAll(t, depth, out)
		}
		return letter(r, out)
	}
	if d := norm.NFD.String(string(r)); d != string(r) {
		return lookAll(d, depth, out)
	}
	compat := norm.NFKD.String(string(r))
	if t, ok := confusables()[r]; ok {
		// A prototype that reads as nothing, such as "©" for "Ⓒ", gives
		// way to the compatibility decomposition, "C"; so does one that
		// reads as other letters than an ASCII compatibility form: "ˡ"
		// (U+02E1) is "l", not the Canadian syllabic "ᣳ" of the table.
		if more := lookAll(norm.NFD.String(t), depth, nil); len(more) > 0 && !(compat != string(r) && ascii(lookAll(compat, depth, nil)) && !ascii(more)) {
			return append(out, more...)
		}
		// A letter that looks like punctuation ("ʼ", U+02BC, looks like an
		// apostrophe) reads as nothing, as the punctuation does.
		if compat == string(r) && !strings.ContainsFunc(t, func(c rune) bool { return !unicode.In(c, unicode.P, unicode.Sk) }) {
			return out
		}
	}
	if compat != string(r) {
		return lookAll(compat, depth, out)
	}
	if b, ok := latinBase(r); ok {
		return look(b, depth+1, out)
	}
	return letter(r, out)
}

// ascii reports whether s is ASCII and not empty.
func ascii(s []rune) bool {
	return len(s) > 0 && !slices.ContainsFunc(s, func(r rune) bool { return r >= 0x80 })
}

// letter appends r to out if it is a letter or digit.
func letter(r rune, out []rune) []rune {
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
	separator kind = iota // reads as nothing: ends a word
	mark                  // a combining mark: part of the letter before it
	upper
	lower
	caseless
	digit
	alone // a compatibility form, or a symbol that reads as letters: a word of its own
)

// kindAnswer is what kindOf returns for a code point.
type kindAnswer struct {
	kind     kind
	skeleton []rune
}

// asciiKinds are kindOf's answers for the ASCII code points, which most
// names are made of, worked out once: kindOf's answer depends on the code
// point alone.
var asciiKinds = sync.OnceValue(func() *[0x80]kindAnswer {
	var t [0x80]kindAnswer
	for r := range rune(0x80) {
		k, s := kindOf(r, nil)
		t[r] = kindAnswer{k, s}
	}
	return &t
})

// kindOf returns r's kind, and the skeleton code points it adds (in
// buf).
func kindOf(r rune, buf []rune) (kind, []rune) {
	buf = look(r, 0, buf[:0])
	switch {
	case len(buf) == 0 && unicode.Is(unicode.M, r) && !defaultIgnorable(r):
		return mark, buf
	case len(buf) == 0:
		return separator, buf
	case !unicode.In(r, unicode.L, unicode.N) || r >= 0x80 && norm.NFKD.String(string(r)) != norm.NFD.String(string(r)):
		return alone, buf // "™", "|", "¢", "Ｃ", "𝐂", "🅒"
	}
	c := r
	if r >= 0x80 {
		// The case of what it reads as: "θ" reads as a capital O with a
		// bar, "ɢ" as a capital G, "ǀ" (without case) as "l".
		c = buf[0]
	}
	switch {
	case unicode.IsUpper(c) || unicode.IsTitle(c):
		return upper, buf
	case unicode.IsLower(c):
		return lower, buf
	case unicode.IsDigit(c):
		return digit, buf
	}
	return caseless, buf
}

// words is a name as it looks: its skeleton, and where a word may start
// or end in it (starts[i]: before skeleton[i]; starts[len(skeleton)]: at
// the end).
type words struct {
	skeleton []rune
	starts   []bool
}

// kindMemo keeps kindOf's answers for the non-ASCII code points a
// ReservedNames policy has read: a code point whose compatibility
// decomposition is long costs tens of microseconds to read (U+FDFA's is
// 18 code points), and a request may repeat it in a name of
// MaxClientNameBytes, in each of hundreds of client_name#tag members.
// Those (of 4 code points or more: 142 in Unicode 15) are always kept; of
// the others, at most maxKindMemo.
type kindMemo struct {
	mu sync.RWMutex
	m  map[rune]kindAnswer
}

func newKindMemo() *kindMemo { return &kindMemo{m: map[rune]kindAnswer{}} }

// maxKindMemo bounds the code points a kindMemo keeps whose decomposition
// is short (cheap to read again), so that requests cannot grow it.
const maxKindMemo = 1 << 12

// kindOf is kindOf(r, nil), remembered.
func (km *kindMemo) kindOf(r rune) (kind, []rune) {
	km.mu.RLock()
	a, ok := km.m[r]
	km.mu.RUnlock()
	if ok {
		return a.kind, a.skeleton
	}
	k, s := kindOf(r, nil)
	var buf [utf8.UTFMax]byte
	long := utf8.RuneCount(norm.NFKD.Properties(buf[:utf8.EncodeRune(buf[:], r)]).Decomposition()) >= 4
	km.mu.Lock()
	if long || len(km.m) < maxKindMemo {
		km.m[r] = kindAnswer{k, s}
	}
	km.mu.Unlock()
	return k, s
}

// read reduces name to words (see ReservedNames).
func (km *kindMemo) read(name string) words {
	// A code point of the name adds one code point to the skeleton, most
	// often: "m" adds two, a mark none.
	w := words{skeleton: make([]rune, 0, len(name)), starts: make([]bool, 1, len(name)+1)}
	w.starts[0] = true
	type letter struct {
		k  kind
		at int // index in skeleton of its first code point
	}
	var prev, prev2 letter // the letters before, within one word; separator if none
	ascii := asciiKinds()
	for _, r := range name {
		var k kind
		var s []rune
		if r < 0x80 {
			k, s = ascii[r].kind, ascii[r].skeleton // read only
		} else {
			k, s = km.kindOf(r) // read only
		}
		switch k {
		case mark:
			continue
		case separator:
			prev, prev2 = letter{}, letter{}
			w.starts[len(w.starts)-1] = true
			continue
		}
		if prev.k == separator || k == alone || prev.k == alone || prev.k != k && !(prev.k == upper && k == lower) {
			w.starts[len(w.starts)-1] = true
		}
		if prev2.k == upper && prev.k == upper && k == lower {
			w.starts[prev.at] = true // "AIHelper": a word starts at H
		}
		prev, prev2 = letter{k, len(w.skeleton)}, prev
		w.skeleton = append(w.skeleton, s...)
		w.starts = append(w.starts, make([]bool, len(s))...)
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
			if seq, ok := letterSequences[c]; ok {
				alts = append(alts, string(lookAll(seq, 0, nil)))
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

// letterSequences are the letters that two others side by side look like
// and confusables.txt, which maps single code points, does not give: "cl"
// reads as "d" ("Claucle" as "Claude"), "vv" as "w". (Its "m" is "rn"
// already.)
var letterSequences = map[rune]string{'d': "cl", 'w': "vv"}

// contains reports whether p appears in w as whole words.
func (w words) contains(p [][]string) bool {
	for i := range w.skeleton {
		if w.starts[i] && w.matchesAt(p, i) {
			return true
		}
	}
	return false
}

// matchesAt reports whether p appears in w's skeleton from i on, and a
// word may end where it does.
func (w words) matchesAt(p [][]string, i int) bool {
	if len(p) == 0 {
		return w.starts[i]
	}
	for _, alt := range p[0] {
		n := 0
		for _, r := range alt {
			if i+n >= len(w.skeleton) || w.skeleton[i+n] != r {
				n = -1
				break
			}
			n++
		}
		if n > 0 && w.matchesAt(p[1:], i+n) {
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
