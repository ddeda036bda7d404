package policy_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

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
		code string
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
		name, doc, want string
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
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p(r, dcr.Metadata{"client_name": bc.clientName, "redirect_uris": []any{"http://localhost:1/cb"}})
			}
		})
	}
}
