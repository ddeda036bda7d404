package policy_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/unicode/norm"
	"pgregory.net/rapid"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/policy"
)

func TestScopes(t *testing.T) {
	r := httptest.NewRequest("POST", "/register", nil)
	chain := func(m dcr.Metadata) error {
		for _, p := range []dcr.Policy{policy.AllowedScopes("mcp", "offline_access"), policy.DefaultScope("mcp")} {
			if err := p(r, m); err != nil {
				return err
			}
		}
		return nil
	}
	cases := []struct {
		doc  string
		want any // the scope member after the policies; nil: absent
		code dcr.ErrorCode
	}{
		{`{}`, "mcp", ""},
		{`{"scope":""}`, "mcp", ""},
		{`{"scope":"   "}`, "mcp", ""},
		{`{"scope":null}`, "mcp", ""},
		{`{"scope":"mcp admin"}`, "mcp", ""},
		{`{"scope":"admin"}`, "mcp", ""},
		{`{"scope":"offline_access  mcp offline_access"}`, "offline_access mcp", ""},
		{`{"scope":"mcp offline_access"}`, "mcp offline_access", ""},
		{`{"scope":["mcp"]}`, nil, dcr.InvalidClientMetadata},
		{`{"scope":42}`, nil, dcr.InvalidClientMetadata},
	}
	for _, tc := range cases {
		m := metadata(t, tc.doc)
		assert.Equal(t, tc.code, code(t, chain(m)), tc.doc)
		if tc.code == "" {
			assert.Equal(t, tc.want, m["scope"], tc.doc)
		}
	}

	// Each alone.
	m := metadata(t, `{"scope":"admin"}`)
	assert.NoError(t, policy.AllowedScopes("mcp")(r, m))
	_, present := m["scope"]
	assert.False(t, present, "nothing allowed is left: the member goes")
	m = metadata(t, `{"scope":"admin"}`)
	assert.NoError(t, policy.DefaultScope("mcp")(r, m))
	assert.Equal(t, "admin", m["scope"], "DefaultScope alone keeps what was asked")
	m = metadata(t, `{}`)
	assert.NoError(t, policy.AllowedScopes("mcp")(r, m))
	assert.NotContains(t, m, "scope", "AllowedScopes alone adds nothing")
}

// TestRequireScope: after AllowedScopes without a default, a registration
// left with no scope is refused, not sent to Authlete scope-less.
func TestRequireScope(t *testing.T) {
	r := httptest.NewRequest("POST", "/register", nil)
	for doc, want := range map[string]dcr.ErrorCode{
		`{"scope":"admin"}`:      dcr.InvalidClientMetadata,
		`{"scope":"admin root"}`: dcr.InvalidClientMetadata,
		`{}`:                     dcr.InvalidClientMetadata,
		`{"scope":""}`:           dcr.InvalidClientMetadata,
		`{"scope":null}`:         dcr.InvalidClientMetadata,
		`{"scope":7}`:            dcr.InvalidClientMetadata,
		`{"scope":"mcp admin"}`:  "",
		`{"scope":"mcp"}`:        "",
	} {
		m := metadata(t, doc)
		err := policy.AllowedScopes("mcp")(r, m)
		if err == nil {
			err = policy.RequireScope()(r, m)
		}
		assert.Equal(t, want, code(t, err), doc)
		if want == "" {
			assert.Equal(t, "mcp", m["scope"], doc)
		}
	}
}

func TestReservedNames(t *testing.T) {
	r := httptest.NewRequest("POST", "/register", nil)
	p := policy.ReservedNames(map[string][]string{
		"Claude":  {"claude.ai", "*.claude.ai"},
		"ChatGPT": {"chatgpt.com"},
		"Cursor":  {"cursor:"},
		"Mistral": {"*.mistral.ai"},
		"OpenAI":  {"openai.com"},
	})
	const evil = `"redirect_uris":["https://evil.example/cb"]`
	cases := []struct {
		name, doc string
		want      dcr.ErrorCode
	}{
		{"the real one", `{"client_name":"Claude","redirect_uris":["https://claude.ai/api/mcp/auth_callback"]}`, ""},
		{"a subdomain", `{"client_name":"Claude","redirect_uris":["https://app.claude.ai/cb"]}`, ""},
		{"desktop on loopback", `{"client_name":"Claude Code","redirect_uris":["http://localhost:54545/callback","http://127.0.0.1:1/cb","http://[::1]/cb"]}`, ""},
		{"a listed scheme", `{"client_name":"Cursor","redirect_uris":["cursor://anysphere.cursor-mcp/oauth/callback"]}`, ""},
		{"another name", `{"client_name":"My MCP client",` + evil + `}`, ""},
		{"no name", `{` + evil + `}`, ""},
		{"null name", `{"client_name":null,` + evil + `}`, ""},
		{"no redirect URIs (device code phishing)", `{"client_name":"Claude","grant_types":["urn:ietf:params:oauth:grant-type:device_code"]}`, dcr.InvalidClientMetadata},
		{"empty redirect URIs", `{"client_name":"Claude","redirect_uris":[]}`, dcr.InvalidClientMetadata},
		{"another name without redirect URIs", `{"client_name":"Nightly exporter","grant_types":["client_credentials"]}`, ""},
		{"longest name", `{"client_name":"` + strings.Repeat("a", policy.MaxClientNameBytes) + `"}`, ""},
		{"name too long", `{"client_name":"` + strings.Repeat("a", policy.MaxClientNameBytes+1) + `"}`, dcr.InvalidClientMetadata},
		{"localized name too long", `{"client_name#ja":"` + strings.Repeat("\ufdfa", policy.MaxClientNameBytes/3+1) + `"}`, dcr.InvalidClientMetadata},
		{"Mistral itself", `{"client_name":"Mistral","redirect_uris":["https://chat.mistral.ai/cb"]}`, ""},
		{"http on the right host", `{"client_name":"Claude","redirect_uris":["http://claude.ai/cb"]}`, ""},
		{"evil redirect", `{"client_name":"Claude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"one evil among good", `{"client_name":"Claude","redirect_uris":["https://claude.ai/cb","https://evil.example/cb"]}`, dcr.InvalidClientMetadata},
		{"http on a LAN host", `{"client_name":"Claude","redirect_uris":["http://192.168.1.5/cb"]}`, dcr.InvalidClientMetadata},
		{"private-use scheme not listed", `{"client_name":"Claude","redirect_uris":["evil://claude.ai/cb"]}`, dcr.InvalidClientMetadata},
		{"suffix trick", `{"client_name":"Claude","redirect_uris":["https://evilclaude.ai/cb"]}`, dcr.InvalidClientMetadata},
		{"case", `{"client_name":"CLAUDE",` + evil + `}`, dcr.InvalidClientMetadata},
		{"inside a longer name", `{"client_name":"Claude Desktop (official)",` + evil + `}`, dcr.InvalidClientMetadata},
		{"Cyrillic С", `{"client_name":"Сlaude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"Cyrillic е", `{"client_name":"Claudе",` + evil + `}`, dcr.InvalidClientMetadata},
		{"Greek α in ChatGPT", `{"client_name":"ChαtGPT",` + evil + `}`, dcr.InvalidClientMetadata},
		{"zero-width space", `{"client_name":"Cla\u200bude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"zero-width joiner", `{"client_name":"Cl\u200daude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"fullwidth", `{"client_name":"Ｃｌａｕｄｅ",` + evil + `}`, dcr.InvalidClientMetadata},
		{"mathematical bold", `{"client_name":"𝐂𝐥𝐚𝐮𝐝𝐞",` + evil + `}`, dcr.InvalidClientMetadata},
		{"accents", `{"client_name":"Cláudé",` + evil + `}`, dcr.InvalidClientMetadata},
		{"spaces and dots", `{"client_name":"C l a.u-d e",` + evil + `}`, dcr.InvalidClientMetadata},
		{"capital I for l", `{"client_name":"CIaude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"digit 1 for l", `{"client_name":"C1aude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"rn for m", `{"client_name":"rnistral",` + evil + `}`, dcr.InvalidClientMetadata},
		{"localized name", `{"client_name":"Helper","client_name#ja":"Claude",` + evil + `}`, dcr.InvalidClientMetadata},
		// The probe's look-alikes, caught by the TR39 skeleton.
		{"right-to-left override", `{"client_name":"\u202eedualC",` + evil + `}`, dcr.InvalidClientMetadata},
		{"an isolate, even with the right hosts", `{"client_name":"My \u2067app\u2069","redirect_uris":["https://claude.ai/cb"]}`, dcr.InvalidClientMetadata},
		{"Hangul filler U+115F", `{"client_name":"Cla\u115fude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"Hangul filler U+3164", `{"client_name":"\u3164Claude\u3164",` + evil + `}`, dcr.InvalidClientMetadata},
		{"halfwidth Hangul filler U+FFA0", `{"client_name":"Clau\uffa0de",` + evil + `}`, dcr.InvalidClientMetadata},
		{"l with stroke", `{"client_name":"Cłaude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"small capital C", `{"client_name":"ᴄlaude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"vertical bar for l", `{"client_name":"C|aude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"Cherokee", `{"client_name":"ᏟᏞᎪUᎠᎬ",` + evil + `}`, dcr.InvalidClientMetadata},
		{"Armenian u", `{"client_name":"Claսde",` + evil + `}`, dcr.InvalidClientMetadata},
		{"O with stroke in ChatGPT's maker", `{"client_name":"ØpenAI",` + evil + `}`, dcr.InvalidClientMetadata},
		{"variation selector", `{"client_name":"Cla\ufe0fude",` + evil + `}`, dcr.InvalidClientMetadata},
		// Issue 21: case, grants without a redirect, look-alikes the
		// skeleton missed.
		{"lowercase", `{"client_name":"openai",` + evil + `}`, dcr.InvalidClientMetadata},
		{"lowercase i", `{"client_name":"OpenAi",` + evil + `}`, dcr.InvalidClientMetadata},
		{"split", `{"client_name":"open ai",` + evil + `}`, dcr.InvalidClientMetadata},
		{"a word of a longer name", `{"client_name":"openai codex",` + evil + `}`, dcr.InvalidClientMetadata},
		{"camel case", `{"client_name":"MyClaudeCode",` + evil + `}`, dcr.InvalidClientMetadata},
		{"acronym then a word", `{"client_name":"OpenAIHelper",` + evil + `}`, dcr.InvalidClientMetadata},
		{"a digit after", `{"client_name":"ChatGPT4o",` + evil + `}`, dcr.InvalidClientMetadata},
		{"device code on loopback", `{"client_name":"Claude","redirect_uris":["http://127.0.0.1/cb"],"grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"response_types":[]}`, dcr.InvalidClientMetadata},
		{"CIBA on the right host", `{"client_name":"Claude","redirect_uris":["https://claude.ai/cb"],"grant_types":["authorization_code","urn:openid:params:grant-type:ciba"]}`, dcr.InvalidClientMetadata},
		{"grant_types not an array", `{"client_name":"Claude","redirect_uris":["https://claude.ai/cb"],"grant_types":"authorization_code"}`, dcr.InvalidClientMetadata},
		{"redirect grants on the right host", `{"client_name":"Claude","redirect_uris":["https://claude.ai/cb"],"grant_types":["authorization_code","refresh_token","implicit"]}`, ""},
		{"device code for another name", `{"client_name":"Nightly exporter","redirect_uris":["http://127.0.0.1/cb"],"grant_types":["urn:ietf:params:oauth:grant-type:device_code"]}`, ""},
		{"lunate sigma", `{"client_name":"ϲlaude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"h with descender", `{"client_name":"CⱨatGPT",` + evil + `}`, dcr.InvalidClientMetadata},
		{"t with retroflex hook", `{"client_name":"ChaʈGPT",` + evil + `}`, dcr.InvalidClientMetadata},
		{"l with palatal hook", `{"client_name":"Cᶅaude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"d with curl", `{"client_name":"Clauȡe",` + evil + `}`, dcr.InvalidClientMetadata},
		{"small capital G", `{"client_name":"ChatɢPT",` + evil + `}`, dcr.InvalidClientMetadata},
		{"p with stroke through descender", `{"client_name":"OꝑenAI",` + evil + `}`, dcr.InvalidClientMetadata},
		{"negative circled", `{"client_name":"🅒🅛🅐🅤🅓🅔",` + evil + `}`, dcr.InvalidClientMetadata},
		{"regional indicators", `{"client_name":"🇨🇱🇦🇺🇩🇪",` + evil + `}`, dcr.InvalidClientMetadata},
		{"localized, lowercase", `{"client_name":"Helper","client_name#en":"claude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"localized not a string", `{"client_name#ja":42,` + evil + `}`, dcr.InvalidClientMetadata},
		{"OpenAL is not OpenAI", `{"client_name":"OpenAL Soft",` + evil + `}`, ""},
		{"Clauder is another word", `{"client_name":"Clauder",` + evil + `}`, ""},
		{"a first name as a word", `{"client_name":"Claude Monet Gallery",` + evil + `}`, dcr.InvalidClientMetadata},
		{"after a caseless script", `{"client_name":"クロードClaude",` + evil + `}`, dcr.InvalidClientMetadata},
		{"a digit after a caseless script", `{"client_name":"アプリ0penAI",` + evil + `}`, dcr.InvalidClientMetadata},
		{"a symbol after", `{"client_name":"Claude™",` + evil + `}`, dcr.InvalidClientMetadata},
		{"superscript letters after", `{"client_name":"Claudeᵗᵐ",` + evil + `}`, dcr.InvalidClientMetadata},
		{"an apostrophe after", `{"client_name":"Claude's helper",` + evil + `}`, dcr.InvalidClientMetadata},
		{"a hyphen and a digit after", `{"client_name":"ChatGPT-4o",` + evil + `}`, dcr.InvalidClientMetadata},
		// The documented limit: glued to small letters, another word.
		{"glued after", `{"client_name":"claudeapp",` + evil + `}`, ""},
		{"glued before", `{"client_name":"myclaude",` + evil + `}`, ""},
		{"a plural", `{"client_name":"ChatGPTs",` + evil + `}`, ""},
		{"an unparsable redirect URI", `{"client_name":"Claude","redirect_uris":["https://claude.ai/cb","http://[::1"]}`, dcr.InvalidClientMetadata},
		{"a name of its own stays free", `{"client_name":"Clause Helper",` + evil + `}`, ""},
		{"Arabic name, right to left without overrides", `{"client_name":"مساعد","redirect_uris":["https://app.example/cb"]}`, ""},
		{"name not a string", `{"client_name":["Claude"],` + evil + `}`, dcr.InvalidClientMetadata},
		{"redirect_uris not an array", `{"client_name":"Claude","redirect_uris":"https://evil.example/cb"}`, dcr.InvalidClientMetadata},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, code(t, p(r, metadata(t, tc.doc))))
		})
	}
}

// TestReservedNamesWithoutLetters: a reserved name of no letters or digits
// reserves nothing, rather than every name.
func TestReservedNamesWithoutLetters(t *testing.T) {
	r := httptest.NewRequest("POST", "/register", nil)
	p := policy.ReservedNames(map[string][]string{"---": {"example.com"}, "\u200b": {"example.com"}, "Claude": {"claude.ai"}})
	assert.NoError(t, p(r, metadata(t, `{"client_name":"My app","redirect_uris":["https://evil.example/cb"]}`)))
	assert.Error(t, p(r, metadata(t, `{"client_name":"Claude","redirect_uris":["https://evil.example/cb"]}`)))
}

// BenchmarkReservedNamesWorstName measures what an unauthenticated update
// can make the policy spend: a 63 KB client_name of U+FDFA (NFKD expands it
// 18-fold) against a name of an MCP client. Compare the two in one run.
func BenchmarkReservedNamesWorstName(b *testing.B) {
	r := httptest.NewRequest("PUT", "/register/1", nil)
	p := policy.ReservedNames(map[string][]string{"Claude": {"claude.ai"}, "ChatGPT": {"chatgpt.com"}})
	for _, bc := range []struct{ name, clientName string }{
		{"typical", "Claude Code (my-server)"},
		{"63KB-U+FDFA", strings.Repeat("\ufdfa", 63<<10/3)},
		{"longest-allowed-U+FDFA", strings.Repeat("\ufdfa", policy.MaxClientNameBytes/3)},
		{"longest-allowed-hangul", hangul(policy.MaxClientNameBytes / 3)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p(r, dcr.Metadata{"client_name": bc.clientName, "redirect_uris": []any{"http://localhost:1/cb"}})
			}
		})
	}
	// A body of 64 KiB holds some 200 client_name#tag members of the
	// longest name: each is read.
	for _, bc := range []struct{ name, clientName string }{
		{"200-members-U+FDFA", strings.Repeat("\ufdfa", policy.MaxClientNameBytes/3)},
		{"200-members-hangul", hangul(policy.MaxClientNameBytes / 3)},
	} {
		m := dcr.Metadata{"redirect_uris": []any{"http://localhost:1/cb"}}
		for i := range 200 {
			m[fmt.Sprintf("client_name#x-%d", i)] = bc.clientName
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p(r, m)
			}
		})
	}
}

// hangul is n distinct Hangul syllables, each 3 bytes, each decomposing
// into 3 jamo.
func hangul(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteRune(rune(0xac00 + i*97))
	}
	return b.String()
}

// The invariant of ReservedNames (see its doc): no registration whose
// client_name or client_name#tag a person would read as a reserved name is
// accepted unless every redirect URI is the owner's and no grant shows the
// name without a redirect. The tests below generate the names a person
// reads as a reserved one from Unicode's data (confusables.txt, Go's
// unicode and x/text tables) and check each against an attacker's redirect
// URI, a loopback one with the device code grant, and in client_name#ja.

// invariantNames are the example's reserved names, and one with a scheme.
var invariantNames = []string{"Claude", "Anthropic", "ChatGPT", "OpenAI", "Cursor"}

func invariantPolicy() dcr.Policy {
	return policy.ReservedNames(map[string][]string{
		"Claude":    {"claude.ai", "*.claude.ai"},
		"Anthropic": {"anthropic.com"},
		"ChatGPT":   {"chatgpt.com"},
		"OpenAI":    {"openai.com"},
		"Cursor":    {"cursor:"},
	})
}

// readAs reports, as a test failure, each way a look-alike name gets past
// p; what describes where the name comes from.
func readAs(t interface {
	Helper()
	Errorf(string, ...any)
}, p dcr.Policy, name, what string) bool {
	t.Helper()
	r := httptest.NewRequest("POST", "/register", nil)
	for _, m := range []dcr.Metadata{
		{"client_name": name, "redirect_uris": []any{"https://evil.example/cb"}},
		{"client_name": name, "redirect_uris": []any{"http://127.0.0.1/cb"}, "grant_types": []any{"urn:ietf:params:oauth:grant-type:device_code"}},
		{"client_name": "Helper", "client_name#ja": name, "redirect_uris": []any{"https://evil.example/cb"}},
	} {
		var pe *dcr.Error
		if err := p(r, m); !errors.As(err, &pe) || pe.Code != dcr.InvalidClientMetadata {
			t.Errorf("%s: %q (%+q) accepted with %v", what, name, name, m)
			return false
		}
	}
	return true
}

// substitutes maps each letter to the code points that confusables.txt
// says look like it: each source whose prototype, without its combining
// marks, is that letter alone.
func substitutes(t testing.TB) map[rune][]rune {
	t.Helper()
	data, err := os.ReadFile("confusables.txt")
	require.NoError(t, err)
	subs := map[rune][]rune{}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Split(line, ";")
		if strings.HasPrefix(line, "#") || len(fields) < 2 {
			continue
		}
		src, err := strconv.ParseUint(strings.TrimSpace(fields[0]), 16, 32)
		require.NoError(t, err, line)
		var target []rune
		for _, cp := range strings.Fields(fields[1]) {
			n, err := strconv.ParseUint(cp, 16, 32)
			require.NoError(t, err, line)
			for _, r := range norm.NFD.String(string(rune(n))) {
				if !unicode.Is(unicode.M, r) {
					target = append(target, r)
				}
			}
		}
		if len(target) == 1 && unicode.IsLetter(target[0]) {
			subs[target[0]] = append(subs[target[0]], rune(src))
		}
	}
	return subs
}

// caseVariants returns r and the other cases of r.
func caseVariants(r rune) []rune {
	v := []rune{r}
	for c := unicode.SimpleFold(r); c != r; c = unicode.SimpleFold(c) {
		v = append(v, c)
	}
	return v
}

// substitutesAt returns what may stand for the letter at i of name.
func substitutesAt(subs map[rune][]rune, name []rune, i int) []rune {
	var s []rune
	for _, v := range caseVariants(name[i]) {
		s = append(s, subs[v]...)
	}
	return s
}

func replaceAt(name []rune, i int, r ...rune) string {
	return string(slices.Concat(name[:i], r, name[i+1:]))
}

// TestReservedNamesConfusables: every single-letter substitution that
// confusables.txt gives, of every reserved name, is refused.
func TestReservedNamesConfusables(t *testing.T) {
	p, subs := invariantPolicy(), substitutes(t)
	n := 0
	for _, name := range invariantNames {
		rs := []rune(name)
		for i := range rs {
			for _, s := range substitutesAt(subs, rs, i) {
				n++
				readAs(t, p, replaceAt(rs, i, s), "substitution from confusables.txt")
			}
		}
	}
	t.Logf("%d substitutions", n)
	assert.Greater(t, n, 1400)

	// Where a word ends matters at the name's first and last letters: each
	// substitution there, inside each longer name. (After a small letter,
	// "MyX" needs a capital first letter: see TestReservedNamesDoubles.)
	for _, name := range invariantNames {
		rs := []rune(name)
		for _, i := range []int{0, len(rs) - 1} {
			for _, s := range substitutesAt(subs, rs, i) {
				for _, w := range wordsAround {
					if i == 0 && strings.Contains(w, "yX") {
						continue
					}
					readAs(t, p, strings.Replace(w, "X", replaceAt(rs, i, s), 1), "substitution in a longer name")
				}
			}
		}
	}
}

// TestReservedNamesCasings: every casing of every reserved name is
// refused, alone and with every letter substituted in turn.
func TestReservedNamesCasings(t *testing.T) {
	p := invariantPolicy()
	for _, name := range invariantNames {
		rs := []rune(name)
		for mask := range 1 << len(rs) {
			c := slices.Clone(rs)
			for i := range c {
				if mask&(1<<i) != 0 {
					c[i] = unicode.ToUpper(c[i])
				} else {
					c[i] = unicode.ToLower(c[i])
				}
			}
			readAs(t, p, string(c), "casing")
		}
	}
}

// forms are the compatibility and enclosed forms of the Latin letters, by
// style: each maps an ASCII letter to its form, or 0 if the style has
// none. The mathematical alphabets come from the NFKD data of x/text;
// the enclosed ones are the blocks of U+24B6, U+249C, U+1F130, U+1F150,
// U+1F170 and U+1F1E6 (regional indicators), the last three without a
// decomposition.
func forms() map[string]func(rune) rune {
	block := func(upper, lower rune) func(rune) rune {
		return func(r rune) rune {
			switch {
			case 'A' <= r && r <= 'Z' && upper != 0:
				return upper + r - 'A'
			case 'a' <= r && r <= 'z' && lower != 0:
				return lower + r - 'a'
			case 'a' <= r && r <= 'z': // the style has capitals only
				return upper + r - 'a'
			}
			return 0
		}
	}
	f := map[string]func(rune) rune{
		"fullwidth":        block(0xFF21, 0xFF41),
		"circled":          block(0x24B6, 0x24D0),
		"parenthesized":    block(0, 0x249C),
		"squared":          block(0x1F130, 0),
		"negative circled": block(0x1F150, 0),
		"negative squared": block(0x1F170, 0),
		"regional":         block(0x1F1E6, 0),
		"small capital": func(r rune) rune {
			return map[rune]rune{'c': 'ᴄ', 'o': 'ᴏ', 'u': 'ᴜ', 'a': 'ᴀ', 'd': 'ᴅ', 'e': 'ᴇ', 'h': 'ʜ', 't': 'ᴛ', 'g': 'ɢ', 'p': 'ᴘ', 'r': 'ʀ', 'n': 'ɴ', 'i': 'ɪ', 'l': 'ʟ', 's': 'ꜱ'}[unicode.ToLower(r)]
		},
	}
	math := map[int]map[rune]rune{}
	for r := rune(0x1D400); r <= 0x1D6A3; r++ {
		if d := []rune(norm.NFKD.String(string(r))); len(d) == 1 && d[0] < 0x80 {
			style := int(r-0x1D400) / 52
			if math[style] == nil {
				math[style] = map[rune]rune{}
			}
			math[style][d[0]] = r
		}
	}
	for style, m := range math {
		f[fmt.Sprint("mathematical ", style)] = func(r rune) rune { return m[r] }
	}
	return f
}

// TestReservedNamesForms: each reserved name in each style, whole and one
// letter at a time, is refused.
func TestReservedNamesForms(t *testing.T) {
	p := invariantPolicy()
	for style, f := range forms() {
		for _, name := range invariantNames {
			rs := []rune(name)
			whole := make([]rune, len(rs))
			for i, r := range rs {
				if whole[i] = f(r); whole[i] == 0 {
					whole[i] = r
				}
				if f(r) != 0 {
					readAs(t, p, replaceAt(rs, i, f(r)), style)
				}
			}
			readAs(t, p, string(whole), style)
		}
	}
}

// separators are what a name may hold between its letters and still read
// as one word: every default-ignorable code point and bidirectional
// control in Go's unicode tables, and spaces and punctuation.
func separators() []rune {
	s := []rune{' ', '-', '.', '_', '\u00a0', '\u3000', '\u200b', '·', '\'', '/'}
	for _, table := range []*unicode.RangeTable{unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector, unicode.Cf, unicode.Bidi_Control, unicode.White_Space} {
		for _, r16 := range table.R16 {
			for r := rune(r16.Lo); r <= rune(r16.Hi); r += rune(r16.Stride) {
				s = append(s, r)
			}
		}
		for _, r32 := range table.R32 {
			for r := rune(r32.Lo); r <= rune(r32.Hi); r += rune(r32.Stride) {
				// Of the 4,096 code points reserved as default-ignorable
				// from U+E0000, the tags up to U+E007F and one in 64.
				if r < 0xE0080 || r%64 == 0 {
					s = append(s, r)
				}
			}
		}
	}
	return s
}

// TestReservedNamesSeparators: a separator or invisible code point at any
// place in a reserved name does not hide it.
func TestReservedNamesSeparators(t *testing.T) {
	p := invariantPolicy()
	seps := separators()
	for _, name := range invariantNames {
		rs := []rune(name)
		for k, s := range seps {
			i := 1 + k%(len(rs)-1) // each separator once, the places in turn
			readAs(t, p, string(slices.Concat(rs[:i], []rune{s}, rs[i:])), "separator")
		}
		for i := 1; i < len(rs); i++ {
			readAs(t, p, string(slices.Concat(rs[:i], []rune(" \u200b-"), rs[i:])), "separators")
		}
	}
	t.Logf("%d separators", len(seps))
}

// wordsAround are longer names that hold a reserved name X as a word.
var wordsAround = []string{"X Desktop", "My X", "X-beta", "(X)", "X: helper", "X's helper", "MyX", "XCode", "myXApp",
	"X2", "X 2.0", "«X»", "Ask X now", "X\u3000アプリ", "アプリX", "X™", "🤖X", "X.app", "x_X_x"}

// TestReservedNamesAsWord: a reserved name inside a longer name, as a
// word of it, is refused.
func TestReservedNamesAsWord(t *testing.T) {
	p := invariantPolicy()
	for _, name := range invariantNames {
		for _, casing := range []string{name, strings.ToUpper(name)} {
			for _, w := range wordsAround {
				readAs(t, p, strings.Replace(w, "X", casing, 1), "as a word")
			}
		}
		for _, w := range []string{"X Desktop", "My X", "X-beta", "(X)"} {
			readAs(t, p, strings.Replace(w, "X", strings.ToLower(name), 1), "as a word")
		}
	}
}

// TestReservedNamesDoubles: look-alikes drawn at random: two letters
// substituted from confusables.txt, the others in any case, maybe a
// separator inside, maybe words around.
func TestReservedNamesDoubles(t *testing.T) {
	p, subs, seps := invariantPolicy(), substitutes(t), separators()
	rapid.Check(t, func(t *rapid.T) {
		words := "X"
		if rapid.Bool().Draw(t, "in a longer name") {
			words = rapid.SampledFrom(wordsAround).Draw(t, "words")
		}
		// A word starts at a capital after a small letter: "MyClaude",
		// but "myclaude" is one word (see ReservedNames).
		glued := strings.Contains(words, "yX")
		rs := []rune(rapid.SampledFrom(invariantNames).Draw(t, "name"))
		for i := range rs {
			if glued && i == 0 || rapid.Bool().Draw(t, "upper") {
				rs[i] = unicode.ToUpper(rs[i])
			} else {
				rs[i] = unicode.ToLower(rs[i])
			}
		}
		name := slices.Clone(rs)
		for _, i := range rapid.SliceOfNDistinct(rapid.IntRange(0, len(rs)-1), 2, 2, rapid.ID).Draw(t, "at") {
			s := substitutesAt(subs, rs, i)
			if glued && i == 0 {
				s = subs[rs[0]]
			}
			if len(s) > 0 {
				name[i] = rapid.SampledFrom(s).Draw(t, "substitute")
			}
		}
		if rapid.Bool().Draw(t, "separated") {
			i := rapid.IntRange(1, len(name)-1).Draw(t, "separator at")
			name = slices.Concat(name[:i], []rune{rapid.SampledFrom(seps).Draw(t, "separator")}, name[i:])
		}
		readAs(t, p, strings.Replace(words, "X", string(name), 1), "double substitution")
	})
}

// legitimateNames must pass ReservedNames, with any redirect URI: other
// words that begin or end like a reserved name, and names in other
// scripts that do not look like one. (A reserved name as a word of a
// longer name, "Claude Monet Gallery", is refused; see ReservedNames.)
var legitimateNames = []string{
	"Chatterbox", "Anthropology Notes", "Philanthropic Fund", "Misanthropic", "Open Data Portal", "OpenAPI Explorer",
	"Open Air Cinema", "Open AIR Festival", "OpenAL Soft", "Claudette's Bakery", "Clauder", "Claudia", "Cloud Desk",
	"Cursory Notes", "Precursor", "Cursors & Co", "ChatGPS", "Chat Room", "GitHub Copilot", "Visual Studio Code",
	"MCP Inspector", "Goose", "Windsurf", "Cline", "LibreChat", "Cherry Studio", "Zed", "My MCP client",
	"クロード・モネ美術館", "ノートアプリ", "開放データ", "클로드", "Κλαύδιος", "Αθήνα", "Клод", "Привет мир", "مساعد", "שלום",
	"Ὀδυσσεύς", "Ünïcödé Tëst", "Café Anthropo", "ℂ𝕠𝕞𝕡𝕒𝕟𝕪",
	"Claudéric", "Claude\u0301ric", // and decomposed: the accent is part of its word

}

// TestReservedNamesLegitimate: the fix does not refuse the world.
func TestReservedNamesLegitimate(t *testing.T) {
	r := httptest.NewRequest("POST", "/register", nil)
	p := invariantPolicy()
	for _, name := range legitimateNames {
		for _, m := range []dcr.Metadata{
			{"client_name": name, "redirect_uris": []any{"https://evil.example/cb"}},
			{"client_name#ja": name, "grant_types": []any{"urn:ietf:params:oauth:grant-type:device_code"}},
		} {
			assert.NoError(t, p(r, m), "%q", name)
		}
	}
}

// TestReservedNamesPunctuationLetters: a letter that confusables.txt says
// looks like punctuation (U+02BC "ʼ", U+02BB "ʻ", U+A78C "ꞌ" look like an
// apostrophe) hides a reserved name no better than the punctuation: at any
// place inside it, the name is refused ("Clʼaude", as "Cl'aude", was
// accepted).
func TestReservedNamesPunctuationLetters(t *testing.T) {
	data, err := os.ReadFile("confusables.txt")
	require.NoError(t, err)
	var letters []rune
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Split(line, ";")
		if strings.HasPrefix(line, "#") || len(fields) < 2 {
			continue
		}
		src, err := strconv.ParseUint(strings.TrimSpace(fields[0]), 16, 32)
		require.NoError(t, err, line)
		var target strings.Builder
		for _, cp := range strings.Fields(fields[1]) {
			n, err := strconv.ParseUint(cp, 16, 32)
			require.NoError(t, err, line)
			target.WriteRune(rune(n))
		}
		if r := rune(src); unicode.IsLetter(r) && !strings.ContainsFunc(target.String(), func(c rune) bool {
			return !unicode.In(c, unicode.P, unicode.Sk)
		}) && norm.NFKD.String(string(r)) == string(r) {
			letters = append(letters, r)
		}
	}
	require.Contains(t, letters, '\u02bc')
	p := invariantPolicy()
	for _, name := range invariantNames {
		rs := []rune(name)
		for i := 1; i < len(rs); i++ {
			for _, l := range letters {
				readAs(t, p, string(slices.Concat(rs[:i], []rune{l}, rs[i:])), "letter that looks like punctuation")
			}
		}
	}
	t.Logf("%d letters", len(letters))
}

// TestReservedNamesCompatibilityLetters: every code point whose
// compatibility decomposition is one ASCII letter (superscripts, modifier
// letters, fullwidth, mathematical and circled forms) stands for that
// letter in a reserved name. "Cˡaude" (U+02E1) and "OᴾenAI" (U+1D3E) were
// accepted: confusables.txt maps them to Canadian syllabics, which won
// over the compatibility form.
func TestReservedNamesCompatibilityLetters(t *testing.T) {
	forms := map[rune][]rune{}
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if d := []rune(norm.NFKD.String(string(r))); len(d) == 1 && d[0] < 0x80 && unicode.IsLetter(d[0]) {
			forms[d[0]] = append(forms[d[0]], r)
		}
	}
	p, n := invariantPolicy(), 0
	for _, name := range invariantNames {
		rs := []rune(name)
		for i := range rs {
			for _, v := range caseVariants(rs[i]) {
				for _, f := range forms[v] {
					n++
					readAs(t, p, replaceAt(rs, i, f), "compatibility form")
				}
			}
		}
	}
	t.Logf("%d substitutions", n)
	assert.Greater(t, n, 1000)
}

// TestReservedNamesLetterSequences: two letters that read as one of a
// reserved name ("cl" as "d", "vv" as "w", "rn" as "m"), themselves
// substituted from confusables.txt, do not hide it ("Claucle" was
// accepted).
func TestReservedNamesLetterSequences(t *testing.T) {
	p, subs := invariantPolicy(), substitutes(t)
	sequences := map[rune]string{'d': "cl", 'w': "vv", 'm': "rn"}
	n := 0
	for _, name := range invariantNames {
		rs := []rune(name)
		for i, r := range rs {
			seq, ok := sequences[unicode.ToLower(r)]
			if !ok {
				continue
			}
			pair := []rune(seq)
			for _, second := range append([]rune{pair[1]}, subs[pair[1]]...) {
				n++
				readAs(t, p, replaceAt(rs, i, pair[0], second), "letter sequence")
			}
		}
	}
	assert.Greater(t, n, 20)
}

// BenchmarkReservedNames is ReservedNames' share of a registration, with
// the example's reserved names.
//
//	go test -run X -bench 'ReservedNames$' -benchmem
func BenchmarkReservedNames(b *testing.B) {
	benchPolicy(b, policy.ReservedNames(map[string][]string{
		"Claude":    {"claude.ai", "*.claude.ai", "claude.com", "*.claude.com", "anthropic.com", "*.anthropic.com"},
		"Anthropic": {"claude.ai", "*.claude.ai", "claude.com", "*.claude.com", "anthropic.com", "*.anthropic.com"},
		"ChatGPT":   {"chatgpt.com", "*.chatgpt.com", "openai.com", "*.openai.com"},
		"OpenAI":    {"chatgpt.com", "*.chatgpt.com", "openai.com", "*.openai.com"},
	}))
}

// TestReservedNamesCostIsBounded: a body of the longest names, in as many
// client_name#tag members as 64 KiB hold, made of the code points whose
// decompositions are the longest, costs a few allocations per member, not
// thousands (1,463,806 for the 200 members before the memo: half a second
// of CPU for one request).
func TestReservedNamesCostIsBounded(t *testing.T) {
	r := httptest.NewRequest("POST", "/register", nil)
	p := policy.ReservedNames(map[string][]string{"Claude": {"claude.ai"}})
	m := dcr.Metadata{"redirect_uris": []any{"http://localhost:1/cb"}}
	for i := range 200 {
		m[fmt.Sprintf("client_name#x-%d", i)] = strings.Repeat("\ufdfa", policy.MaxClientNameBytes/3)
	}
	require.NoError(t, p(r, m))
	allocs := testing.AllocsPerRun(3, func() { p(r, m) })
	assert.Less(t, allocs, 20.0*200, "allocations for 200 members")
}
