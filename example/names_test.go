package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestBlackBoxReservedNames: the findings of issue 21 against the built
// example, whose default settings turn ReservedNames on: reserved names in
// another case or as a word of a longer name, in a client_name#tag, with a
// grant that shows the name without a redirect, and look-alikes the
// skeleton missed; and names that must still be registered.
func TestBlackBoxReservedNames(t *testing.T) {
	t.Parallel()
	base, _ := startExampleBinary(t, []string{"DCR_RATE_LIMIT=0"}, "") // some 80 registrations: not what it tests
	register := func(metadata map[string]any) response {
		body, err := json.Marshal(metadata)
		assert.NoError(t, err)
		return send(t, "POST", base+"/register", "", string(body))
	}
	evil := []string{"https://evil.example/cb"}
	refused := func(got response, what string) {
		t.Helper()
		assert.Equal(t, 400, got.status, "%s: %s", what, got.raw)
		assert.Equal(t, "invalid_client_metadata", got.body["error"], what)
	}
	for _, name := range []string{
		"openai", "OpenAi", "open ai", "openai codex", "ANTHROPIC", "AnthropIc", "claude", "chatgpt", "ClaudeCode",
		"ϲlaude", "CⱨatGPT", "ChaʈGPT", "Cᶅaude", "Clauȡe", "ChatɢPT", "OꝑenAI", "🅒🅛🅐🅤🅓🅔",
	} {
		refused(register(map[string]any{"client_name": name, "redirect_uris": evil}), name)
		for _, tag := range []string{"client_name#ja", "client_name#en", "client_name#de-CH"} {
			refused(register(map[string]any{"client_name": "Helper", tag: name, "redirect_uris": evil}), tag+": "+name)
		}
	}
	for _, grant := range []string{"urn:ietf:params:oauth:grant-type:device_code", "urn:openid:params:grant-type:ciba"} {
		refused(register(map[string]any{"client_name": "Claude", "redirect_uris": []string{"http://127.0.0.1/cb"},
			"grant_types": []string{grant}, "response_types": []string{}}), grant)
	}
	for _, m := range []map[string]any{
		{"client_name": "Claude", "redirect_uris": []string{"https://claude.ai/api/mcp/auth_callback"}, "grant_types": []string{"authorization_code", "refresh_token"}},
		{"client_name": "Claude Code", "redirect_uris": []string{"http://localhost:54545/callback"}},
		{"client_name": "Clauder", "redirect_uris": evil},
		{"client_name": "Open Data Portal", "redirect_uris": evil},
		{"client_name": "Anthropology Notes", "client_name#ja": "人類学ノート", "redirect_uris": evil},
	} {
		got := register(m)
		assert.Equal(t, 201, got.status, "%v: %s", m, got.raw)
	}
}
