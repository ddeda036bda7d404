package clientmatrix

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLeftoverTextInert: the client_id of a client left registered is the
// server's text too, and cannot drive the operator's terminal.
func TestLeftoverTextInert(t *testing.T) {
	srv := &counted{serve: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"client_id": "\x1b]0;pwned\x07\x1b[2J\u202e",
			"registration_client_uri": "http://evil.example/x", "registration_access_token": "t"})
	}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	r := run(t, Options{Endpoint: ts.URL + "/register", Only: []string{"zed", checkCreated}})
	require.NotEmpty(t, r.Leftovers)
	var table strings.Builder
	require.NoError(t, r.WriteTable(&table))
	for _, bad := range []string{"\x1b", "\x07", "\u202e"} {
		assert.NotContains(t, table.String(), bad)
	}
}

// TestTableKeepsServerTextInert: a server's text cannot drive the
// operator's terminal: control and format characters (escape sequences,
// bidi overrides) are not printed.
func TestTableKeepsServerTextInert(t *testing.T) {
	_, endpoint := startFake(t, faults{refuseCustomSchemes: true, errorSuffix: "\x1b[2J\x1b]0;pwned\x07\u202egnp.exe\u0085\u009b31m\r\nFAKE ok: all passed"})
	r := run(t, Options{Endpoint: endpoint, Only: []string{"cursor-1"}})
	var table strings.Builder
	require.NoError(t, r.WriteTable(&table))
	for _, bad := range []string{"\x1b", "\x07", "\u202e", "\u0085", "\u009b", "\r"} {
		assert.NotContains(t, table.String(), bad)
	}
	assert.Contains(t, table.String(), "The custom scheme cursor: is not allowed.")
	assert.NotRegexp(t, `(?m)^FAKE`, table.String(), "no line of the server's own")
	assert.Contains(t, r.Clients[0].ErrorDescription, "\x1b[2J", "the JSON report keeps the text as it came (JSON escapes it)")
}
