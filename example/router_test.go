package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestBlackBoxOwnAnswersAreJSON is a probe's finding (issue 25): outside
// the DCR endpoints the router answered with chi's own text ("404 page
// not found", an empty 405) without the no-store headers. Every answer
// the example writes itself is the JSON error of dcr.WriteError; a 405
// says what the path allows.
func TestBlackBoxOwnAnswersAreJSON(t *testing.T) {
	t.Parallel()
	base, _ := startExampleBinary(t, nil, "")
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/nothing", 404, ""},
		{"GET", "/Register/1", 404, ""},
		{"POST", "/.well-known/oauth-authorization-server", 404, ""},
		{"POST", "/healthz", 405, "GET"},
		{"DELETE", "/readyz", 405, "GET"},
		{"PUT", "/metrics", 405, "GET"},
	} {
		r := send(t, c.method, base+c.path, "", "")
		assert.Equal(t, c.status, r.status, "%s %s: %s", c.method, c.path, r.raw)
		assert.Equal(t, "invalid_request", r.body["error"], "%s %s: %s", c.method, c.path, r.raw)
		assert.NotEmpty(t, r.body["error_description"], "%s %s", c.method, c.path)
		assert.Equal(t, "application/json", r.header.Get("Content-Type"), "%s %s", c.method, c.path)
		assert.Equal(t, "no-store", r.header.Get("Cache-Control"), "%s %s", c.method, c.path)
		assert.Equal(t, "no-cache", r.header.Get("Pragma"), "%s %s", c.method, c.path)
		assert.Equal(t, c.allow, r.header.Get("Allow"), "%s %s", c.method, c.path)
	}
}
