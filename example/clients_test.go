package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/clientmatrix"
)

// runClientMatrix runs the built dcr-doctor -clients against the
// registration endpoint, and returns its output and exit status.
func runClientMatrix(t *testing.T, endpoint string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary(t, "github.com/dcr-go/dcr/cmd/dcr-doctor", false), append([]string{"-clients", endpoint}, args...)...)
	// No AUTHLETE_* variables: the matrix needs none.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	require.NoError(t, err, "%s", out)
	return string(out), 0
}

func matrixReport(t *testing.T, out string) clientmatrix.Report {
	t.Helper()
	var r clientmatrix.Report
	// The JSON report, then on failure dcr-doctor's line on stderr.
	require.NoError(t, json.NewDecoder(strings.NewReader(out)).Decode(&r), out)
	return r
}

// TestBlackBoxClientMatrix: with its defaults, the built example accepts
// every known client and passes every check of dcr-doctor -clients; each
// client is deleted again.
func TestBlackBoxClientMatrix(t *testing.T) {
	t.Parallel()
	base, p := startExampleBinary(t, nil, "")
	// Two runs of about 22 registrations each: within the default limit
	// of 60 a minute per address.
	out, status := runClientMatrix(t, base+"/register")
	assert.Equal(t, 0, status, out)
	assert.Contains(t, out, "ok: no client and no check failed")
	t.Logf("dcr-doctor -clients %s/register:\n%s", base, out)

	out, status = runClientMatrix(t, base+"/register", "-json")
	require.Equal(t, 0, status, out)
	r := matrixReport(t, out)
	require.Len(t, r.Clients, len(clientmatrix.Corpus()))
	for _, c := range r.Clients {
		assert.False(t, c.Failed, "%s: %+v", c.Name, c)
		want := []clientmatrix.Outcome{clientmatrix.Accepted, clientmatrix.Changed}
		if c.Name == "goose" {
			want = []clientmatrix.Outcome{clientmatrix.NeedsCIMD}
		}
		assert.Contains(t, want, c.Outcome, c.Name)
	}
	for _, c := range r.Checks {
		assert.Equal(t, clientmatrix.Pass, c.Status, "%s: %s", c.Name, c.Reason)
	}
	assert.Empty(t, r.Leftovers)
	assert.NotContains(t, p.out.String(), "level=ERROR")
}

// TestBlackBoxClientMatrixScopes: with a default and a narrower set of
// scopes, the clients are accepted with changes, which the report names.
func TestBlackBoxClientMatrixScopes(t *testing.T) {
	t.Parallel()
	base, _ := startExampleBinary(t, []string{"DCR_DEFAULT_SCOPE=mcp", "DCR_ALLOWED_SCOPES=mcp"}, "")
	out, status := runClientMatrix(t, base+"/register", "-json", "-only", "copilot-cli,chatgpt-legacy,scope")
	require.Equal(t, 0, status, out)
	r := matrixReport(t, out)
	require.Len(t, r.Clients, 2)
	copilot, chatgpt := r.Clients[1], r.Clients[0]
	assert.Equal(t, clientmatrix.Changed, copilot.Outcome)
	assert.Contains(t, copilot.Changes, clientmatrix.Change{Member: "scope", Got: "mcp"})
	assert.Equal(t, clientmatrix.Changed, chatgpt.Outcome)
	assert.Equal(t, []clientmatrix.Change{{Member: "scope", Sent: "mcp offline_access", Got: "mcp"}}, chatgpt.Changes)
	assert.Equal(t, clientmatrix.Pass, r.Checks[0].Status, r.Checks[0].Reason)
}

// TestBlackBoxClientMatrixRefused: an example configured to require a
// scope refuses the clients that send none; the report names each and the
// reason, and the exit status says so.
func TestBlackBoxClientMatrixRefused(t *testing.T) {
	t.Parallel()
	policyFile := filepath.Join(t.TempDir(), "scope-required.json")
	require.NoError(t, os.WriteFile(policyFile, []byte(`{"scope":{"essential":true}}`), 0o644))
	base, _ := startExampleBinary(t, []string{"DCR_METADATA_POLICY=" + policyFile}, "")
	out, status := runClientMatrix(t, base+"/register")
	assert.Equal(t, 1, status, out)
	assert.Regexp(t, `(?m)^copilot-cli +\S+ +FAIL refused +400 invalid_client_metadata: The value of "scope" violates the essential policy: it is required$`, out)
	assert.Regexp(t, `(?m)^claude-ai +\S.* accepted `, out, "it sends a scope")
	assert.Contains(t, out, "FAILED: 12 client(s) (claude-ai-secret, claude-code, cursor-1, cursor-3, vscode, codex, copilot-cli, zed, mcp-remote, copilot-studio, windsurf, kiro)")

	out, status = runClientMatrix(t, base+"/register", "-json", "-only", "zed")
	assert.Equal(t, 1, status, out)
	r := matrixReport(t, out)
	require.Len(t, r.Clients, 1)
	zed := r.Clients[0]
	assert.True(t, zed.Failed)
	assert.Equal(t, clientmatrix.Refused, zed.Outcome)
	assert.Equal(t, 400, zed.Status)
	assert.Equal(t, "invalid_client_metadata", zed.Error)
	assert.Contains(t, zed.ErrorDescription, `"scope"`)
	assert.Empty(t, r.Checks, "-only zed: no check")

	// The checks alone: their probe, a generic public client without a
	// scope, is refused by the policy: they are skipped, not failed.
	out, status = runClientMatrix(t, base+"/register", "-json", "-only", "created,read")
	assert.Equal(t, 0, status, out)
	r = matrixReport(t, out)
	require.Len(t, r.Checks, 2)
	for _, c := range r.Checks {
		assert.Equal(t, clientmatrix.Skip, c.Status, c.Name)
		assert.Contains(t, c.Reason, `400 invalid_client_metadata: The value of "scope" violates the essential policy`, c.Name)
	}
}
