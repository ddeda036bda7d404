package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// browserClient is what a browser MCP client (MCP Inspector, the MCP
// TypeScript SDK in a page) does against the DCR endpoints from another
// origin: it registers with the headers such clients add, reads the
// rate-limit headers, then reads, updates and deletes its client.
const browserClient = `
async function dcr(base) {
  const out = {};
  const reg = await fetch(base + "/register", {method: "POST",
    headers: {"Content-Type": "application/json", "Accept": "application/json", "MCP-Protocol-Version": "2025-06-18"},
    body: JSON.stringify({client_name: "MCP Inspector", redirect_uris: ["http://localhost:6274/oauth/callback"], token_endpoint_auth_method: "none", scope: "mcp"})});
  out.register = reg.status;
  out.limit = reg.headers.get("X-RateLimit-Limit");
  out.remaining = reg.headers.get("X-RateLimit-Remaining");
  out.reset = reg.headers.get("X-RateLimit-Reset");
  const client = await reg.json();
  out.scope = client.scope;
  const auth = {"Authorization": "Bearer " + client.registration_access_token, "MCP-Protocol-Version": "2025-06-18"};
  const read = await fetch(client.registration_client_uri, {headers: auth});
  out.read = read.status;
  const update = await fetch(client.registration_client_uri, {method: "PUT",
    headers: Object.assign({"Content-Type": "application/json"}, auth),
    body: JSON.stringify({client_id: client.client_id, client_name: "renamed", redirect_uris: ["http://localhost:6274/oauth/callback"], token_endpoint_auth_method: "none", scope: "mcp"})});
  out.update = update.status;
  out.name = (await update.json()).client_name;
  const del = await fetch(client.registration_client_uri, {method: "DELETE", headers: auth});
  out.delete = del.status;
  const gone = await fetch(client.registration_client_uri, {headers: auth});
  out.gone = gone.status;
  out.wwwAuthenticate = gone.headers.get("WWW-Authenticate");
  try {
    await fetch(base + "/metrics");
    out.metrics = "readable";
  } catch (e) {
    out.metrics = "blocked";
  }
  return JSON.stringify(out);
}
`

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("DCR_REQUIRE_BROWSER") != "" {
		t.Fatal("chromium is not installed (apt-get install -y chromium); scripts/test.sh installs it")
	}
	t.Skip("chromium is not installed; scripts/test.sh installs it")
	return ""
}

// TestBrowserCrossOrigin drives headless Chromium over the DevTools
// protocol: a page of one origin does DCR against the example on another.
func TestBrowserCrossOrigin(t *testing.T) {
	bin := chromium(t)
	base, logs := startExample(t, nil)
	defer func() {
		if t.Failed() {
			printFailures(t, logs)
		}
	}()
	// The page is served from 127.0.0.1; the example is addressed as
	// localhost: another origin.
	api := strings.Replace(base, "127.0.0.1", "localhost", 1)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<!doctype html><title>MCP client</title><script>" + browserClient + "</script>"))
	}))
	defer page.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true))
	allocCtx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	_, err := chromedp.Run(ctx, chromedp.Navigate(page.URL))
	require.NoError(t, err)
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`dcr("`+api+`")`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &got), raw)
	assert.Equal(t, float64(201), got["register"], raw)
	assert.Equal(t, "60", got["limit"], "X-RateLimit-Limit is readable")
	assert.Equal(t, "59", got["remaining"], "X-RateLimit-Remaining is readable")
	assert.NotEmpty(t, got["reset"], "X-RateLimit-Reset is readable")
	assert.Equal(t, "mcp", got["scope"])
	assert.Equal(t, float64(200), got["read"])
	assert.Equal(t, float64(200), got["update"])
	assert.Equal(t, "renamed", got["name"])
	assert.Equal(t, float64(204), got["delete"])
	assert.Equal(t, float64(401), got["gone"])
	assert.Equal(t, `Bearer error="invalid_token"`, got["wwwAuthenticate"], "WWW-Authenticate is readable")
	assert.Equal(t, "blocked", got["metrics"], "the metrics are not readable from another origin")
}
