package clientmatrix

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCorpus: the clients of issue 24 are there, each as the issue
// describes it.
func TestCorpus(t *testing.T) {
	byName := map[string]Client{}
	for _, c := range Corpus() {
		byName[c.Name] = c
		assert.NotEmpty(t, c.Source, c.Name)
		assert.NotEmpty(t, c.Version, c.Name)
	}
	redirects := func(name string) []string {
		uris, ok := stringList(byName[name].Request["redirect_uris"])
		require.True(t, ok, name)
		return uris
	}
	assert.Equal(t, []string{"https://claude.ai/api/mcp/auth_callback"}, redirects("claude-ai"))
	assert.Equal(t, "client_secret_post", byName["claude-ai-secret"].Request["token_endpoint_auth_method"])
	assert.True(t, byName["claude-ai-secret"].Needs.Secret)
	assert.Regexp(t, `^http://localhost:\d+/callback$`, redirects("claude-code")[0])
	assert.Equal(t, []string{"https://chatgpt.com/connector_platform_oauth_redirect"}, redirects("chatgpt-legacy"))
	assert.True(t, strings.HasPrefix(redirects("chatgpt-connector")[0], "https://chatgpt.com/"))
	assert.Len(t, redirects("cursor-3"), 3)
	assert.Contains(t, redirects("cursor-3"), "cursor://anysphere.cursor-mcp/oauth/callback")
	assert.Equal(t, "native", byName["vscode"].Request["application_type"])
	assert.Contains(t, redirects("vscode"), "https://vscode.dev/redirect")
	assert.Contains(t, redirects("vscode"), "http://127.0.0.1:33418/")
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+/.+/my-server$`, redirects("codex")[0])
	assert.NotContains(t, byName["copilot-cli"].Request, "scope")
	assert.Equal(t, []any{"authorization_code"}, byName["zed"].Request["grant_types"])
	assert.False(t, byName["zed"].Needs.RefreshToken)
	assert.Equal(t, "http://localhost:6274", byName["mcp-inspector"].Origin)
	assert.True(t, byName["mcp-inspector"].Needs.CORS)
	assert.Equal(t, "2e6dc280-f3c3-4e01-99a7-8181dbd1d23d", byName["mcp-remote"].Request["software_id"])
	for _, name := range []string{"copilot-studio", "windsurf", "kiro"} {
		assert.Contains(t, byName, name)
	}
	assert.True(t, byName["goose"].CIMDOnly)
	assert.Nil(t, byName["goose"].Request)
}

// TestCorpusCaptured: an entry that says it was captured from
// example/testdata/corpus.json has that file's payload, member for member.
func TestCorpusCaptured(t *testing.T) {
	data, err := os.ReadFile("../example/testdata/corpus.json")
	require.NoError(t, err)
	var captured []struct {
		Metadata map[string]any `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal(data, &captured))
	n := 0
	for _, c := range Corpus() {
		if c.Payload != "captured" || !slices.ContainsFunc(c.Source, func(s string) bool { return strings.HasPrefix(s, "example/testdata/corpus.json") }) {
			continue
		}
		n++
		assert.True(t, slices.ContainsFunc(captured, func(e struct {
			Metadata map[string]any `json:"metadata"`
		}) bool {
			return canonical(e.Metadata) == canonical(c.Request)
		}), "%s: not example/testdata/corpus.json's payload", c.Name)
	}
	assert.GreaterOrEqual(t, n, 5)
}

func TestParseCorpus(t *testing.T) {
	for _, bad := range []string{
		`{"format":2,"clients":[]}`,
		`{"format":1,"clients":[{"name":"a","source":["x"],"payload":"captured","request":{}},{"name":"a","source":["x"],"payload":"captured","request":{}}]}`,
		`{"format":1,"clients":[{"name":"a","payload":"captured","request":{}}]}`,
		`{"format":1,"clients":[{"name":"a","source":["x"],"payload":"guessed","request":{}}]}`,
		`{"format":1,"clients":[{"name":"a","source":["x"],"payload":"inferred"}]}`,
		`{"format":1,"clients":[{"name":"a","source":["x"],"payload":"inferred","request":{},"nedds":{}}]}`,
		`[]`,
	} {
		_, err := ParseCorpus([]byte(bad))
		assert.Error(t, err, bad)
	}
	clients, err := ParseCorpus([]byte(`{"format":1,"clients":[{"name":"a","source":["x"],"payload":"inferred","cimd_only":true}]}`))
	require.NoError(t, err)
	assert.Len(t, clients, 1)
}
