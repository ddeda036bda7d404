package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"context"

	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authletetest"
)

// TestNodeClients runs the Node clients' tests (node/*.test.js) against
// two stacks, an open one and one that requires an initial access token,
// and Authlete's TypeScript SDK against the emulator.
func TestNodeClients(t *testing.T) {
	if _, err := os.Stat(filepath.Join("node", "node_modules")); err != nil {
		t.Fatal("node/node_modules is missing: run 'npm ci' in interop/node (scripts/test.sh does)")
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err, "Node.js is needed for the Node clients")

	open := startStack(t, "")
	const iat = "iat-node-clients"
	protected := startStack(t, iat)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emulator := authletetest.NewServer(t, authletetest.Options{})
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "register.test.js", "authlete-sdk.test.js")
	cmd.Dir = "node"
	cmd.Env = append(os.Environ(), "DCR_ISSUER="+open.URL, "DCR_IAT_ISSUER="+protected.URL, "DCR_IAT="+iat,
		"AUTHLETE_EMULATOR_URL="+emulator.URL, "AUTHLETE_SERVICE_APIKEY="+emulator.Options().ServiceID,
		"AUTHLETE_SERVICE_ACCESSTOKEN="+emulator.Options().AccessToken)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test:\n%s", out)
	require.NoError(t, err, "a Node client failed")
}
